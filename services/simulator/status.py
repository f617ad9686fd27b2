"""Real-time claim status: POST /x12/276 answers a 276 with a 277 (005010X212).

What the payer knows of each claim is in ``claim_status``, kept by the handlers:
received (its 277CA not out yet) A1:19, rejected by the front end A3 with the 277CA's
status code, accepted and waiting for adjudication A2:20, finalized F1:65 (paid), F2:1
(denied), F4:104 (no payment: all patient responsibility), with the payer claim number,
the charge, what was paid, the adjudication date and the 835's trace number as the
check or EFT number. A claim the payer never accepted, or asked about under another
member, is A4:35 (not found).

The route needs the bearer token ``RCM_CLEARINGHOUSE_TOKEN``.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg
from aiohttp import web

from runtime.settings import Settings, settings
from runtime.x12 import Envelope, X12Error
from services.simulator import repository, x12_277
from services.simulator.clearinghouse import CLEARINGHOUSE_ID
from services.simulator.x12_276 import V276_277, StatusInquiry, read_276
from services.simulator.x12_277 import ClaimStatus, write_277

PATH = "/x12/276"

Answer = tuple[int, str]


def authorized(headers: Mapping[str, str], s: Settings | None = None) -> bool:
    value = headers.get("Authorization") or headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    expected = (s or settings()).clearinghouse_token.get_secret_value()
    return scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), expected.encode())


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


async def answer_request(
    pool: asyncpg.Pool, headers: Mapping[str, str], body: bytes, s: Settings | None = None
) -> Answer:
    """HTTP status and body for one POST: the transport-neutral core of the route."""
    if not authorized(headers, s):
        return 401, "missing or bad bearer token"
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        return 400, "bad 276: not ASCII text"
    try:
        return 200, await respond(pool, text, s)
    except X12Error as exc:
        return 400, f"bad 276: {exc}"


def aiohttp_app(pool_of: Callable[[], asyncpg.Pool]) -> web.Application:
    """The same route as a plain aiohttp application (tests, benchmarks)."""

    async def post(request: web.Request) -> web.Response:
        status, text = await answer_request(pool_of(), request.headers, await request.read())
        return web.Response(text=text, status=status, content_type="application/edi-x12")

    app = web.Application()
    app.router.add_post(PATH, post)
    return app
