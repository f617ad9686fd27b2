"""The batcher: coded claims waiting in CODED go out per tenant and payer, one 837P
interchange for up to ``batch_max_claims`` of them.

A group goes out when it is full or when its oldest claim has waited
``batch_window_s``, so latency stays low and a busy day still shares interchanges. The
batcher runs once a batch of claim.coded, claim.fixed or claim.void_requested has
committed (a claim may have become ready) and when the oldest waiting group ripens;
``batch_tick_s`` only bounds how late it notices a claim nothing woke it for.
Claim rows are taken FOR UPDATE SKIP LOCKED: several instances never send one claim
twice, and a claim whose event is being applied right now is looked at again shortly.

Each interchange goes to the connector (x12.interchange-ready), which uploads it to the
tenant's clearinghouse mailbox; its claims stay CODED (no longer waiting) until the
connector reports the upload (x12.file-sent): then each is SUBMITTED and gets its own
claim.submitted (key: the claim id) carrying the interchange (services/claims/sent.py).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass

import asyncpg
import orjson
from pydantic import ValidationError

from runtime.service import Context, Service
from schemas.common import Coverage
from schemas.events import ClaimCoded
from schemas.events_transport import X12InterchangeReady
from services.claims import directory, partners, repository_files, saga
from services.claims import repository as repo
from services.claims.cob import Cob, later_payers
from services.claims.config import ClaimsSettings
from services.claims.handlers import Change, apply
from services.claims.payers import Payer, refusal
from services.claims.saga import State
from services.claims.x12_837 import (
    ControlNumbers,
    Outgoing,
    Unbuildable,
    payers_named,
    render_837p,
    with_filing_indicators,
)

log = logging.getLogger("rcm.claims.batch")


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
    payer: Payer | None = None  # the billed payer's directory entry, once checked


def chunks_to_send(waiting: list[Waiting], cap: int) -> list[list[Waiting]]:
    """Full chunks of ``cap``, and the rest only once its oldest claim is ripe.
    ``waiting`` is one tenant and payer, oldest first."""
    out = []
    for i in range(0, len(waiting), cap):
        chunk = waiting[i : i + cap]
        if len(chunk) == cap or chunk[0].ripe:
            out.append(chunk)
    return out


class Batcher:
    """The batcher with its settings; ``send_batches`` is the timer app.py registers
    (and the one it wakes: the same bound method each time)."""

    def __init__(self, cfg: ClaimsSettings) -> None:
        self.cfg = cfg

    async def send_batches(self, svc: Service) -> int:
        """One tick of the batcher; returns how many claims went out."""
        assert svc.pool is not None
        cfg = self.cfg
        async with svc.pool.acquire() as conn:
            ready = await conn.fetch(
                repo.READY,
                cfg.batch_max_claims * PICK_INTERCHANGES,
                cfg.batch_max_claims,
                cfg.batch_window_s,
            )
            if not ready:
                # the next group to ripen wakes the batcher then, not a tick later
                await svc.wake_when_due(self.send_batches, conn, repo.RIPENS_IN, cfg.batch_window_s)
                return 0
            async with conn.transaction():
                sent = await self._send_ready(svc, conn, [r[0] for r in ready])
            if not sent:  # ready, but locked by a batch being applied: look again shortly
                svc.wake(self.send_batches, after=cfg.batch_window_s / 4)
            return sent

    async def _send_ready(
        self, svc: Service, conn: asyncpg.Connection, claim_ids: list[str]
    ) -> int:
        """Locks the ready claims that are still waiting (another instance may have sent
        some), and sends the chunks that are full or ripe."""
        rows = await repo.pick_waiting(conn, claim_ids, self.cfg.batch_window_s)
        waiting = [w for row in rows if (w := await self._waiting(svc, conn, row)) is not None]
        known = await directory.lookup(
            conn, {(w.tenant, pid) for w in waiting for pid in payers_named(w.out)}
        )
        groups: dict[tuple[str, str], list[Waiting]] = defaultdict(list)
        for w in waiting:
            if not await self._in_directory(svc, conn, w, known):
                continue
            cov = w.out.claim.coverage
            groups[(w.tenant, cov.payer_id if cov else "")].append(w)
        sent = 0
        for (tenant, payer_id), waiting in groups.items():
            for chunk in chunks_to_send(waiting, self.cfg.batch_max_claims):
                sent += await self.send_interchange(svc, conn, tenant, payer_id, chunk)
        return sent

    async def _waiting(
        self, svc: Service, conn: asyncpg.Connection, row: asyncpg.Record
    ) -> Waiting | None:
        """The claim as it goes out; a claim whose stored coding cannot be read is held."""
        try:
            claim = ClaimCoded.model_validate_json(row["coded"])
        except (ValidationError, TypeError) as exc:
            ctx = _ctx(svc, conn, row["tenant"], row["claim_id"])
            await self._hold(ctx, row["claim_id"], "837-UNREADABLE", f"stored claim: {exc}")
            return None
        freq = row["outgoing_frequency"]
        if claim.patient_control_number != row["patient_control_number"]:
            claim = claim.model_copy(
                update={"patient_control_number": row["patient_control_number"]}
            )
        cob = Cob.model_validate_json(row["cob"]) if row["cob"] else None
        if cob is not None:  # to a later payer: billed under its coverage
            cov = cob.coverage
            claim = claim.model_copy(
                update={"coverage": cov, "payer_id": cov.payer_id, "payer_name": cov.payer_name}
            )
        elif claim.coverage is not None and row["coverages"] and row["date_of_service"]:
            covs = [Coverage.model_validate(c) for c in orjson.loads(row["coverages"])]
            later = later_payers(covs, row["date_of_service"], claim.coverage.payer_id)
            cob = Cob(level=1, coverage=claim.coverage, later=later) if later else None
        return Waiting(
            row["claim_id"],
            row["tenant"],
            bool(row["ripe"]),
            Outgoing(claim, freq, row["payer_claim_number"] if freq != "1" else None, cob),
            row["traceparent"],
        )

    async def _in_directory(
        self,
        svc: Service,
        conn: asyncpg.Connection,
        w: Waiting,
        known: dict[tuple[str, str], Payer],
    ) -> bool:
        """Every payer the claim's 837P names is in its tenant's directory (the billed
        one active and enrolled for claims): then its coverages carry the directory's
        filing indicators (SBR09). Otherwise the claim is held naming the payer."""
        named = payers_named(w.out)
        for n, pid in enumerate(named):
            payer = known.get((w.tenant, pid))
            if n > 0 and payer is not None:
                continue  # an earlier or later payer (2320/2330): known is enough (SBR09)
            why = refusal(pid, w.tenant, payer)
            if why is not None:
                fix = "add, reactivate or enroll the payer in the directory (rcm payers import)"
                await self._hold(_ctx(svc, conn, w.tenant, w.claim_id), w.claim_id, *why, fix=fix)
                return False
        w.out = with_filing_indicators(w.out, {pid: known[(w.tenant, pid)] for pid in named})
        w.payer = known[(w.tenant, named[0])] if named else None
        return True

    async def _hold(
        self,
        ctx: Context,
        claim_id: str,
        code: str,
        message: str,
        *,
        fix: str = "complete the missing data and resubmit",
    ) -> None:
        reason = {"code": code, "message": message, "fix": fix}
        change = Change({"hold_stage": "claims", "outgoing_frequency": None}, {"reasons": [reason]})
        await apply(ctx, self.cfg, saga.UNBUILDABLE, claim_id, State.CODED, change)
        log.warning("claim held: 837P not sent", extra={"claim": claim_id, "reason": code})

    async def send_interchange(
        self,
        svc: Service,
        conn: asyncpg.Connection,
        tenant: str,
        payer_id: str,
        chunk: list[Waiting],
    ) -> int:
        """Renders one interchange for the chunk, records it and its submissions, moves
        each claim to SUBMITTED and emits its claim.submitted. Returns the number sent."""
        todo = await self._not_sent_before(svc, conn, tenant, chunk)
        icn, gcn = await repo.next_control_numbers(conn)
        text, todo = await self._render(svc, conn, tenant, todo, icn, gcn)
        if not todo:
            return 0
        sent = [
            (w.claim_id, w.out.claim.patient_control_number, w.out.frequency_code, _level(w))
            for w in todo
        ]
        await repo.save_interchange(conn, icn, gcn, tenant, payer_id, sent, text)
        await repository_files.hand_off(conn, [w.claim_id for w in todo])
        # the connector uploads it; its claims are SUBMITTED once it is there (sent.py)
        ctx = svc.context(
            conn, tenant=tenant, correlation_id=f"icn:{icn:09d}", cause=f"batch:{icn}"
        )
        ready = X12InterchangeReady(
            interchange_control_number=f"{icn:09d}", payer_id=payer_id, claims=len(todo), x12=text
        )
        await ctx.emit(ready)
        log.info(
            "837P interchange handed to the connector",
            extra={"interchange": f"{icn:09d}", "claims": len(todo), "payer": payer_id},
        )
        return len(todo)

    async def _not_sent_before(
        self, svc: Service, conn: asyncpg.Connection, tenant: str, chunk: list[Waiting]
    ) -> list[Waiting]:
        """The chunk less the originals whose CLM01 went out as an original before (the
        unique index would refuse them anyway; here they are held with the reason
        instead of failing the batch)."""
        originals = [
            (w.out.claim.patient_control_number, _level(w))
            for w in chunk
            if w.out.frequency_code == "1"
        ]
        already = await repo.sent_as_originals(conn, originals)
        todo: list[Waiting] = []
        for w in chunk:
            key = (w.out.claim.patient_control_number, _level(w))
            if w.out.frequency_code == "1" and key in already:
                await self._hold(
                    _ctx(svc, conn, tenant, w.claim_id),
                    w.claim_id,
                    "DUPLICATE-ORIGINAL",
                    "this CLM01 was already sent as an original; not sent again",
                )
            else:
                todo.append(w)
        return todo

    async def _render(
        self,
        svc: Service,
        conn: asyncpg.Connection,
        tenant: str,
        todo: list[Waiting],
        icn: int,
        gcn: int,
    ) -> tuple[str, list[Waiting]]:
        """The 837P of the claims that can be built; the others are held."""
        s = svc.settings
        me = partners.identity(await partners.for_tenant(conn, tenant), s)
        todo = list(todo)
        while todo:
            try:
                text = render_837p(
                    [w.out for w in todo],
                    control=ControlNumbers(interchange=icn, group=gcn, transaction_start=1),
                    submitter=me.submitter,
                    receiver=me.receiver,
                    contact_phone=me.contact_phone,
                    contact_name=me.contact_name,
                    contact_email=me.contact_email,
                    at=dt.datetime.now(dt.UTC),
                    usage=s.x12_usage,
                )
                return text, todo
            except Unbuildable as exc:
                bad = next((w for w in todo if w.claim_id == exc.claim_id), None)
                if bad is None:  # a submitter/receiver problem names no claim: hold them all
                    raise
                ctx = _ctx(svc, conn, tenant, bad.claim_id)
                await self._hold(ctx, bad.claim_id, "837-UNBUILDABLE", str(exc))
                todo.remove(bad)
        return "", todo


def _level(w: Waiting) -> int:
    """The payer's place in the claim's order: 1 primary, 2 secondary, 3 tertiary."""
    return w.out.cob.level if w.out.cob is not None else 1


def _ctx(svc: Service, conn: asyncpg.Connection, tenant: str, claim_id: str) -> Context:
    return svc.context(conn, tenant=tenant, correlation_id=claim_id, cause=f"batch:{claim_id}")
