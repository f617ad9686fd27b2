"""Real-time claim status: a 276 answered with a 277 (005010X212), over the
clearinghouse's CAQH CORE endpoint (:mod:`services.simulator.core_web`).

What the payer knows of each claim is in ``claim_status``, kept by the handlers:
received (its 277CA not out yet) A1:19, rejected by the front end A3 with the 277CA's
status code, accepted and waiting for adjudication A2:20, finalized F1:65 (paid), F2:1
(denied), F4:104 (no payment: all patient responsibility), with the payer claim number,
the charge, what was paid, the adjudication date and the 835's trace number as the
check or EFT number. A claim the payer never accepted, or asked about under another
member, is A4:35 (not found).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from runtime.settings import Settings, settings
from runtime.x12 import Envelope
from services.simulator import repository, x12_277
from services.simulator.clearinghouse import CLEARINGHOUSE_ID
from services.simulator.x12_276 import V276_277, StatusInquiry, read_276
from services.simulator.x12_277 import ClaimStatus, write_277


async def _lookup(conn: asyncpg.Connection, q: StatusInquiry, today: dt.date) -> ClaimStatus:
    if q.patient_control_number:
        row = await repository.claim_status_by_pcn(conn, q.payer.id, q.patient_control_number)
    elif q.payer_claim_number:
        row = await repository.claim_status_by_payer_claim_number(
            conn, q.payer.id, q.payer_claim_number
        )
    else:
        row = None
    if row is None or (q.member_id and q.member_id != row["member_id"]):
        return ClaimStatus(*x12_277.NOT_FOUND, effective=today)
    common: dict[str, Any] = {
        "charge_cents": row["charge_cents"],
        "patient_control_number": row["patient_control_number"],
        "service_from": row["service_from"],
        "service_to": row["service_to"],
    }
    state = row["state"]
    if state == "received":
        return ClaimStatus(*x12_277.RECEIVED, effective=row["updated_at"].date(), **common)
    if state == "rejected":
        category, code = row["category"] or "A3", row["code"] or "21"
        return ClaimStatus(category, code, effective=row["updated_at"].date(), **common)
    if state == "pending":
        return ClaimStatus(*x12_277.ACCEPTED, effective=row["updated_at"].date(), **common)
    adjudicated = row["adjudicated_on"]
    return ClaimStatus(
        row["category"],
        row["code"],
        effective=adjudicated,
        paid_cents=row["paid_cents"],
        adjudicated=adjudicated,
        check_date=adjudicated,
        check_number=row["trace_number"],
        payer_claim_number=row["payer_claim_number"],
        **common,
    )


async def respond(pool: asyncpg.Pool, text: str, s: Settings | None = None) -> str:
    """The 277 for one 276. X12Error when the 276 cannot be read."""
    request = read_276(text)
    now = dt.datetime.now(dt.UTC)
    async with pool.acquire() as conn:
        answers = [await _lookup(conn, q, now.date()) for q in request.inquiries]
        icn = await repository.next_interchange_control(conn)
    s = s or settings()
    env = Envelope(
        sender_qualifier="ZZ",
        sender_id=CLEARINGHOUSE_ID,
        receiver_qualifier="ZZ",
        receiver_id=request.sender_id or s.x12_submitter_id,
        functional_id="HN",
        version=V276_277,
        interchange_control_number=icn,
        group_control_number=icn,
        usage=s.x12_usage,
    )
    return write_277(request, answers, envelope=env, at=now)
