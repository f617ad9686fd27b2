"""The batcher: coded claims waiting in CODED go out per tenant and payer, one 837P
interchange for up to ``batch_max_claims`` of them.

A group goes out when it is full or when its oldest claim has waited
``batch_window_s``, so latency stays low and a busy day still shares interchanges. The
batcher runs once a batch of claim.coded, claim.fixed or claim.void_requested has
committed (a claim may have become ready) and when the oldest waiting group ripens;
``batch_tick_s`` only bounds how late it notices a claim nothing woke it for.
Claim rows are taken FOR UPDATE SKIP LOCKED: several instances never send one claim
twice, and a claim whose event is being applied right now is looked at again shortly.

Each claim still gets its own claim.submitted (key: the claim id) carrying the
interchange's control numbers and the whole interchange text; the clearinghouse
acknowledges the interchange once (by ISA13) and answers claim.acknowledged per claim.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass

import asyncpg
from pydantic import ValidationError

from runtime.service import Deferred, Service, run_deferred
from runtime.settings import settings
from schemas.codec import Encoded
from schemas.events import ClaimCoded, ClaimSubmitted
from services.claims.config import claims_settings
from services.claims.handlers import move, timer
from services.claims.saga import State
from services.claims.x12_837 import ControlNumbers, Outgoing, Party, Unbuildable, render_837p

log = logging.getLogger("rcm.claims.batch")

#: The waiting claims whose tenant and payer have a full interchange's worth waiting or
#: whose oldest has waited the window out: only they are locked and read. Locking every
#: waiting claim at each tick (20 a second) wrote a row lock to the WAL for each and read
#: and parsed its coded claim again, though most waited on (docs/performance.md).
_READY = (
    "SELECT claim_id FROM (SELECT claim_id, state_since, count(*) OVER g AS waiting,"
    " min(state_since) OVER g AS oldest"
    " FROM claims WHERE state = 'CODED' AND outgoing_frequency IS NOT NULL"
    " WINDOW g AS (PARTITION BY tenant, payer_id)) w"
    " WHERE waiting >= $2 OR oldest <= now() - make_interval(secs => $3)"
    " ORDER BY state_since LIMIT $1"
)

#: Seconds until the oldest waiting claim's group is ripe (None: nothing waits).
_RIPENS_IN = (
    "SELECT extract(epoch FROM min(state_since) + make_interval(secs => $1) - now())"
    " FROM claims WHERE state = 'CODED' AND outgoing_frequency IS NOT NULL"
)

_PICK = (
    "SELECT claim_id, tenant, coded, patient_control_number, outgoing_frequency,"
    " payer_claim_number, traceparent,"
    " state_since <= now() - make_interval(secs => $2) AS ripe"
    " FROM claims WHERE claim_id = ANY($1::text[])"
    " AND state = 'CODED' AND outgoing_frequency IS NOT NULL"
    " ORDER BY state_since FOR UPDATE SKIP LOCKED"
)


#: At most this many interchanges' worth of the oldest waiting claims per tick (each tick
#: is one transaction; the batcher runs again at once while it finds work). Forty held up
#: to a thousand claims, their 837s and their claim.submitted events (each carrying its
#: interchange) in memory at once; the claims service's peak in a 15,000-claim burst went
#: 214 -> 198 MB with eight (`rcm bench --claims 15000`, one run each).
PICK_INTERCHANGES = 8


@dataclass(slots=True)
class Waiting:
    claim_id: str
    tenant: str
    ripe: bool
    out: Outgoing
    traceparent: str | None = None


def chunks_to_send(waiting: list[Waiting], cap: int) -> list[list[Waiting]]:
    """Full chunks of ``cap``, and the rest only once its oldest claim is ripe.
    ``waiting`` is one tenant and payer, oldest first."""
    out = []
    for i in range(0, len(waiting), cap):
        chunk = waiting[i : i + cap]
        if len(chunk) == cap or chunk[0].ripe:
            out.append(chunk)
    return out


async def send_batches(svc: Service) -> int:
    """One tick of the batcher; returns how many claims went out."""
    assert svc.pool is not None
    cfg = claims_settings()
    async with svc.pool.acquire() as conn:
        ready = await conn.fetch(
            _READY,
            cfg.batch_max_claims * PICK_INTERCHANGES,
            cfg.batch_max_claims,
            cfg.batch_window_s,
        )
        if not ready:
            # the next group to ripen wakes the batcher then, not a tick later
            await svc.wake_when_due(send_batches, conn, _RIPENS_IN, cfg.batch_window_s)
            return 0
        async with conn.transaction():
            sent = await _send_ready(svc, conn, [r[0] for r in ready])
        if not sent:  # ready, but locked by a batch being applied: look again shortly
            svc.wake(send_batches, after=cfg.batch_window_s / 4)
        return sent


async def _send_ready(svc: Service, conn: asyncpg.Connection, claim_ids: list[str]) -> int:
    """Locks the ready claims that are still waiting (another instance may have sent
    some), and sends the chunks that are full or ripe."""
    cfg = claims_settings()
    rows = await conn.fetch(_PICK, claim_ids, cfg.batch_window_s)
    groups: dict[tuple[str, str], list[Waiting]] = defaultdict(list)
    for row in rows:
        w = await _waiting(svc, conn, row)
        if w is None:
            continue
        cov = w.out.claim.coverage
        groups[(w.tenant, cov.payer_id if cov else "")].append(w)
    sent = 0
    for (tenant, payer_id), waiting in groups.items():
        for chunk in chunks_to_send(waiting, cfg.batch_max_claims):
            sent += await send_interchange(svc, conn, tenant, payer_id, chunk)
    return sent


async def _waiting(svc: Service, conn: asyncpg.Connection, row: asyncpg.Record) -> Waiting | None:
    """The claim as it goes out; a claim whose stored coding cannot be read is held."""
    try:
        claim = ClaimCoded.model_validate_json(row["coded"])
    except (ValidationError, TypeError) as exc:
        await _hold(
            svc, conn, row["tenant"], row["claim_id"], "837-UNREADABLE", f"stored claim: {exc}"
        )
        return None
    freq = row["outgoing_frequency"]
    if claim.patient_control_number != row["patient_control_number"]:
        claim = claim.model_copy(update={"patient_control_number": row["patient_control_number"]})
    return Waiting(
        row["claim_id"],
        row["tenant"],
        bool(row["ripe"]),
        Outgoing(claim, freq, row["payer_claim_number"] if freq != "1" else None),
        row["traceparent"],
    )


async def _hold(
    svc: Service, conn: asyncpg.Connection, tenant: str, claim_id: str, code: str, message: str
) -> None:
    ctx = svc.context(conn, tenant=tenant, correlation_id=claim_id, cause=f"batch:{claim_id}")
    await move(
        ctx,
        claim_id,
        State.HELD,
        "rcm.claims.unbuildable",
        State.CODED,
        {"hold_stage": "claims", "outgoing_frequency": None},
        {
            "reasons": [
                {"code": code, "message": message, "fix": "complete the missing data and resubmit"}
            ]
        },
    )
    log.warning("claim held: 837P cannot be built", extra={"claim": claim_id, "reason": code})


async def send_interchange(
    svc: Service, conn: asyncpg.Connection, tenant: str, payer_id: str, chunk: list[Waiting]
) -> int:
    """Renders one interchange for the chunk, records it and its submissions, moves each
    claim to SUBMITTED and emits its claim.submitted. Returns the number of claims sent."""
    s = settings()
    cfg = claims_settings()
    # The same CLM01 is never sent twice as an original (the unique index would refuse
    # it anyway; here the claim is held with the reason instead of failing the batch).
    originals = [w.out.claim.patient_control_number for w in chunk if w.out.frequency_code == "1"]
    already = {
        r[0]
        for r in await conn.fetch(
            "SELECT patient_control_number FROM submissions"
            " WHERE patient_control_number = ANY($1::text[]) AND frequency_code = '1'",
            originals,
        )
    }
    todo: list[Waiting] = []
    for w in chunk:
        if w.out.frequency_code == "1" and w.out.claim.patient_control_number in already:
            await _hold(
                svc,
                conn,
                tenant,
                w.claim_id,
                "DUPLICATE-ORIGINAL",
                "this CLM01 was already sent as an original; not sent again",
            )
        else:
            todo.append(w)
    icn, gcn = await conn.fetchrow(
        "SELECT nextval('interchange_control'), nextval('group_control')"
    )
    text = ""
    while todo:
        try:
            text = render_837p(
                [w.out for w in todo],
                control=ControlNumbers(interchange=icn, group=gcn, transaction_start=1),
                submitter=Party(s.x12_submitter_name, s.x12_submitter_id),
                receiver=Party(s.x12_receiver_name, s.x12_receiver_id),
                contact_phone=s.x12_submitter_phone,
                at=dt.datetime.now(dt.UTC),
                usage=s.x12_usage,
            )
            break
        except Unbuildable as exc:
            bad = next((w for w in todo if w.claim_id == exc.claim_id), None)
            if bad is None:  # a submitter/receiver problem names no claim: hold them all
                raise
            await _hold(svc, conn, tenant, bad.claim_id, "837-UNBUILDABLE", str(exc))
            todo.remove(bad)
    if not todo:
        return 0
    await conn.execute(
        "INSERT INTO interchanges(interchange_control_number, group_control_number, tenant,"
        " payer_id, claim_ids, frequency_codes, x12) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        icn,
        gcn,
        tenant,
        payer_id,
        [w.claim_id for w in todo],
        [w.out.frequency_code for w in todo],
        text,
    )
    await conn.execute(
        "INSERT INTO submissions(claim_id, patient_control_number, frequency_code,"
        " interchange_control_number)"
        " SELECT c, p, f, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS u(c, p, f)",
        [w.claim_id for w in todo],
        [w.out.claim.patient_control_number for w in todo],
        [w.out.frequency_code for w in todo],
        icn,
    )
    icn_text = f"{icn:09d}"
    outgoing: list[Encoded] = []  # every claim's claim.submitted, to the outbox at once
    deferred: Deferred = []  # and every move, as one executemany
    for w in todo:
        claim = w.out.claim
        ctx = svc.context(
            conn,
            tenant=tenant,
            correlation_id=w.claim_id,
            cause=f"batch:{icn}",
            traceparent=w.traceparent,
        )
        ctx.pending = outgoing
        ctx.deferred = deferred
        detail = {
            "interchange_control_number": icn_text,
            "frequency_code": w.out.frequency_code,
            "patient_control_number": claim.patient_control_number,
            "claims_in_interchange": len(todo),
        }
        if w.out.payer_claim_number:
            detail["payer_claim_number"] = w.out.payer_claim_number
        await move(
            ctx,
            w.claim_id,
            State.SUBMITTED,
            ClaimSubmitted.TYPE,
            State.CODED,
            {"frequency_code": w.out.frequency_code, "outgoing_frequency": None},
            detail,
            also=[
                timer("ack", tenant, cfg.ack_timeout_s, {"interchange": icn}),
                timer("remit", tenant, cfg.remit_wait_s(payer_id), {"interchange": icn}),
            ],
        )
        await ctx.emit(
            ClaimSubmitted(
                claim_id=w.claim_id,
                patient_control_number=claim.patient_control_number,
                payer_id=payer_id,
                interchange_control_number=icn_text,
                group_control_number=str(gcn),
                transaction_control_number="0001",
                frequency_code=w.out.frequency_code,
                total_charge_cents=claim.total_charge_cents,
                x12=text,
            ),
            correlation_id=w.claim_id,
        )
    await run_deferred(conn, deferred)
    await svc.outbox_put_many(conn, outgoing)
    log.info(
        "837P interchange sent",
        extra={"interchange": icn_text, "claims": len(todo), "payer": payer_id},
    )
    return len(todo)
