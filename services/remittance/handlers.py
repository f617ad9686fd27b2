"""Remittance handlers: index what we submitted; read each 835, check it balances, match
each CLP to our claim, post it once, and turn denials and underpayments into work.
The decisions are the domain's, the SQL the repository's."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from runtime.service import Context
from runtime.x12 import X12Error
from schemas.events import ClaimSubmitted, RemitReceived
from services.remittance import repository as repo
from services.remittance import routing
from services.remittance.contract_cache import CONTRACTS
from services.remittance.domain.adjudication import adjudicated, status_of
from services.remittance.domain.ledger import LATER_PAYER
from services.remittance.domain.matching import (
    Match,
    PatientDateCharge,
    Submitted,
    claim_date,
    match,
    patient_key,
    read_837,
)
from services.remittance.domain.posting import (
    Matched,
    Occurrences,
    PostingRows,
    TraceDigests,
    plb_keys,
    reversed_postings,
)
from services.remittance.x12_835.balancing import Balance
from services.remittance.x12_835.model import RemitClaim, Remittance
from services.remittance.x12_835.reader import ClaimStream

# --- claim.submitted ---------------------------------------------------------------------


async def on_submitted(items: Sequence[tuple[Context, ClaimSubmitted]]) -> None:
    """Indexes a run of submitted claims for matching (one statement), then posts any
    CLP that waited for one of them by CLP01: it goes to the first claim of the run it
    names. (Patient, date and charge never match a claim that arrives after the CLP may
    look alike: see timers.rematch. A claim.submitted applied after then was published
    after the 835 was read, and a payer cannot have paid it.)"""
    conn = items[0][0].conn
    subs = []
    for _, ev in items:
        try:
            sub = read_837(ev.x12, ev.patient_control_number)
        except X12Error:
            sub = Submitted(None, None)  # still matchable by CLP01 and payer claim number
        subs.append(sub)
    rows = {  # one row per CLM01 (the latest wins, as one upsert per claim would)
        (ctx.meta.tenant, ev.patient_control_number): (
            ev.claim_id,
            ev.payer_id,
            ev.frequency_code,
            ev.total_charge_cents,
            sub.patient_key,
            sub.service_date,
            ctx.meta.traceparent,
        )
        for (ctx, ev), sub in zip(items, subs, strict=True)
    }
    await repo.index_submitted(conn, [(*key, *rest) for key, rest in rows.items()])
    # each waiting CLP with the first claim of the run it names by CLP01
    first = await repo.first_claim_waited_for(
        conn, [ctx.meta.tenant for ctx, _ in items], [ev.patient_control_number for _, ev in items]
    )
    if not first:
        return
    waiting = await repo.lock_waiting(conn, list(first))
    # The claims of one 835 arrive in the same runs: each file is read and parsed once
    # for the run, not once for each of its claims (an 835 of 100 CLPs parses in 12-28
    # ms, and a burst whose 835s outran their claim.submitted parsed one per claim).
    remits: dict[int, tuple[str, dict[int, RemitClaim]]] = {}
    await _waiting_claims(conn, waiting, remits)  # every file read once, for all of them
    for i, (ctx, _) in enumerate(items, start=1):
        mine = [w for w in waiting if first[w["id"]] == i]
        if mine:
            await retry_unmatched(ctx, mine, remits)


async def _waiting_claims(
    conn: asyncpg.Connection,
    waiting: Sequence[asyncpg.Record],
    remits: dict[int, tuple[str, dict[int, RemitClaim]]],
) -> None:
    """Reads the CLPs the ``waiting`` rows name from their 835s into ``remits`` (payer id
    and CLP by index, by remit id): each file read as a stream, only those CLPs kept."""
    need: dict[int, set[int]] = {}
    for row in waiting:
        need.setdefault(row["remit_id"], set()).add(row["claim_index"])
    for remit_id, indices in need.items():
        have = remits.get(remit_id)
        if have is not None and indices <= have[1].keys():
            continue
        indices |= set(have[1]) if have is not None else set()
        payer, x12 = await repo.remit_text(conn, remit_id)
        clps = {k: c for k, c in enumerate(ClaimStream(x12)) if k in indices}
        remits[remit_id] = (payer, clps)


async def retry_unmatched(
    ctx: Context,
    waiting: Sequence[asyncpg.Record],
    remits: dict[int, tuple[str, dict[int, RemitClaim]]] | None = None,
) -> int:
    """Matches queued CLPs again; posts those that match now. Returns how many posted.
    A row's ``may_fallback`` lets patient, date and charge decide: that is tried once,
    and a CLP it does not match keeps the reason for a person to read.
    ``remits``: the CLPs already read from their 835s (payer id and CLP by index, by
    remit id), kept for the caller's next call."""
    conn = ctx.conn
    remits = {} if remits is None else remits
    by_remit: dict[int, list[asyncpg.Record]] = {}
    for row in waiting:
        by_remit.setdefault(row["remit_id"], []).append(row)
    done = 0
    await _waiting_claims(conn, waiting, remits)
    for remit_id, rows in by_remit.items():
        payer_id, read = remits[remit_id]
        clps = [read[r["claim_index"]] for r in rows]
        matches = await match_claims(
            conn, ctx.meta.tenant, payer_id, clps, [r["may_fallback"] for r in rows]
        )
        tried = [
            (r["id"], m.reason or "unmatched")
            for r, m in zip(rows, matches, strict=True)
            if r["may_fallback"] and m.claim_id is None
        ]
        if tried:
            await repo.mark_looked_alike(conn, tried)
        items = [
            Matched(r["claim_index"], clp, m.claim_id, m.matched_by or "", r["occurrence"])
            for r, clp, m in zip(rows, clps, matches, strict=True)
            if m.claim_id is not None
        ]
        if not items:
            continue
        await post_claims(ctx, remit_id, payer_id, items)
        await repo.close_unmatched(conn, remit_id)
        done += len(items)
    return done


# --- remit.received ------------------------------------------------------------------------


async def on_remit(ctx: Context, ev: RemitReceived) -> None:
    """Reads, balances and posts one 835; a file that does not read or balance waits in
    the remittance work queue, a CLP that matches no claim in the unmatched queue. A file
    read through recoverable faults is posted, and its warnings wait in the work queue.
    A payment trace posted before from a file that stated it otherwise is quarantined.

    Bounded in memory: the file is read as a stream of claims (x12_835.reader.
    ClaimStream), first to balance it and digest its payments, then to match and post
    :data:`CHUNK` claims at a time; a file of more than :data:`KEEP_CLAIMS` claims is
    read twice, its claims never all held. A shared mailbox's
    file is posted for the tenant its claims name (routing.py), read off the first pass."""
    conn = ctx.conn
    sha = hashlib.sha256(ev.x12.encode()).hexdigest()
    check, digest, n = Balance(), TraceDigests(), 0
    named: set[str] = set()  # CLP01s, for routing a shared mailbox's file
    try:
        stream = ClaimStream(ev.x12, keep=KEEP_CLAIMS)
        for c in stream:
            check.claim(c)
            digest.claim(c)
            n += 1
            if ev.shared:
                named.add(c.patient_control_number)
    except X12Error as exc:
        problem = {
            "scope": "file",
            "segment": exc.segment,
            "position": exc.position,
            "message": str(exc),
        }
        await _insert_remit(ctx, ev, sha, "unreadable", [problem], 0)
        return
    if ev.shared:  # readable: posted for its claims' tenant (an unreadable file: above)
        ctx = await routing.routed(ctx, ev, named)
    tenant = ctx.meta.tenant
    rem = stream.rest  # payments, provider adjustments and warnings: no claims
    discrepancies = check.finish(rem)
    if discrepancies:
        seen = await repo.unbalanced_before(conn, tenant, ev.payer_id, ev.trace_number, sha)
        # the remittance work queue holds each unbalanced file once, with every discrepancy
        await _insert_remit(
            ctx,
            ev,
            sha,
            "duplicate" if seen else "unbalanced",
            [d.as_json() for d in discrepancies],
            n,
            rem,
        )
        return
    digests = digest.finish(rem)
    before = await repo.traces_posted(conn, tenant, ev.payer_id, list(digests))
    changed = [(t, before[t][1]) for t, d in digests.items() if t in before and before[t][0] != d]
    if changed:
        await _quarantine(ctx, ev, sha, rem, changed, n)
        return
    remit_id = await _insert_remit(ctx, ev, sha, "posted", [], n, rem)
    fresh = {t: d for t, d in digests.items() if t not in before}
    await repo.record_traces(conn, tenant, ev.payer_id, remit_id, fresh)
    if rem.provider_adjustments:
        traces, occ = plb_keys(rem)
        await repo.insert_plbs(
            conn, tenant, ev.payer_id, remit_id, rem.provider_adjustments, traces, occ
        )
    await _post_remit(ctx, ev.payer_id, remit_id, stream)


async def _quarantine(
    ctx: Context,
    ev: RemitReceived,
    sha: str,
    rem: Remittance,
    changed: list[tuple[str, int]],
    claims: int,
) -> None:
    """A payment posted before from a file that stated it otherwise: held for a person,
    once however often it is delivered, never posted."""
    seen = await repo.unbalanced_before(
        ctx.conn, ctx.meta.tenant, ev.payer_id, ev.trace_number, sha, "quarantined"
    )
    problems = [
        {
            "scope": "payment",
            "trace_number": trace,
            "message": f"payment {trace} was posted from remit {remit} with other claims or "
            "amounts: this file is held for a person, not posted",
        }
        for trace, remit in changed
    ]
    status = "duplicate" if seen else "quarantined"
    await _insert_remit(ctx, ev, sha, status, problems, claims, rem)


#: CLPs of one 835 matched and posted together (a large file's are never all held).
CHUNK = 500
#: An 835 of at most this many CLPs is read once, its claims kept for posting; a larger
#: one is read again as a stream.
KEEP_CLAIMS = 4 * CHUNK


@dataclass
class _Run:
    """One 835's posting so far, chunk by chunk."""

    claims: int = 0
    posted: int = 0
    duplicates: int = 0
    waiting: int = 0
    queued: int = 0
    ends: list[int] | None = None  # claim.submitted's ends, once a CLP matched nothing


async def _post_remit(ctx: Context, payer_id: str, remit_id: int, stream: ClaimStream) -> None:
    """Posts each CLP that matches a claim, queues the others, and records the outcome."""
    run = _Run()
    seen = Occurrences()  # a CLP's n-th time in the file: part of its key
    chunk: list[tuple[int, RemitClaim, int]] = []
    for k, clp in enumerate(stream):
        chunk.append((k, clp, seen.next(clp)))
        if len(chunk) == CHUNK:
            await _post_chunk(ctx, payer_id, remit_id, chunk, run)
            chunk = []
    if chunk:
        await _post_chunk(ctx, payer_id, remit_id, chunk, run)
    if run.posted:
        await repo.close_unmatched(ctx.conn, remit_id)
    already = run.duplicates + (run.waiting - run.queued)
    status = "duplicate" if run.claims and already == run.claims else "posted"
    await repo.finish_remit(
        ctx.conn, remit_id, status, run.posted, run.duplicates, run.queued, run.ends
    )


async def _post_chunk(
    ctx: Context,
    payer_id: str,
    remit_id: int,
    chunk: Sequence[tuple[int, RemitClaim, int]],
    run: _Run,
) -> None:
    conn, tenant = ctx.conn, ctx.meta.tenant
    clps = [clp for _, clp, _ in chunk]
    matches = await match_claims(conn, tenant, payer_id, clps, [False] * len(clps))
    # A CLP no claim we know is named by waits (rematch): its own claim may not be
    # published yet (matching.LOOK_ALIKE_AFTER_S); the claim.submitted ends now are kept
    # with the 835, so patient, date and charge decide only once those are applied.
    unknown = [i for i, m in enumerate(matches) if m.claim_id is None]
    if unknown and run.ends is None:
        run.ends = await ctx.service.topic_ends(ClaimSubmitted.TOPIC)
    items: list[Matched] = []
    waiting: list[tuple[int, RemitClaim, Match]] = []
    occurrence: dict[int, int] = {}
    for (k, clp, occ), m in zip(chunk, matches, strict=True):
        occurrence[k] = occ
        if m.claim_id is None:
            waiting.append((k, clp, m))
        else:
            items.append(Matched(k, clp, m.claim_id, m.matched_by or "", occ))
    posted, duplicates = await post_claims(ctx, remit_id, payer_id, items)
    if waiting:
        run.queued += await repo.queue_unmatched(
            conn, tenant, payer_id, remit_id, waiting, occurrence
        )
    run.claims += len(chunk)
    run.posted += posted
    run.duplicates += duplicates
    run.waiting += len(waiting)


async def _insert_remit(
    ctx: Context,
    ev: RemitReceived,
    sha: str,
    status: str,
    problems: list[dict[str, Any]],
    claims: int,
    rem: Remittance | None = None,
) -> int:
    return await repo.insert_remit(
        ctx.conn,
        ctx.meta.tenant,
        ev.payer_id,
        ev.trace_number,
        ev.source,
        ev.x12,
        sha,
        status,
        problems,
        claims,
        [w.as_json() for w in rem.warnings] if rem is not None else [],
    )


async def match_claims(
    conn: asyncpg.Connection,
    tenant: str,
    payer_id: str,
    clps: Sequence[RemitClaim],
    fallback: Sequence[bool],
) -> list[Match]:
    """Our claim for each CLP, in three set-based look-ups (CLP01, CLP07, patient/date/amount)."""
    if not clps:
        return []
    by_pcn = await repo.claims_by_pcn(conn, tenant, list({c.patient_control_number for c in clps}))
    rest = [
        (c, may)
        for c, may in zip(clps, fallback, strict=True)
        if c.patient_control_number not in by_pcn
    ]
    by_number: dict[str, str] = {}
    by_patient: dict[PatientDateCharge, frozenset[str]] = {}
    if rest:
        numbers = list({c.payer_claim_number for c, _ in rest if c.payer_claim_number})
        if numbers:
            by_number = await repo.claims_by_payer_number(conn, tenant, payer_id, numbers)
        keys = {
            (k, d, abs(c.charge.cents))
            for c, may in rest
            if may and (c.payer_claim_number or "") not in by_number
            for k, d in [(patient_key(c.patient_last_name, c.patient_first_name), claim_date(c))]
            if k is not None and d is not None
        }
        if keys:
            by_patient = await repo.claims_by_patient(conn, tenant, keys)
    return [
        match(c, by_pcn, by_number, by_patient, fallback=may)
        for c, may in zip(clps, fallback, strict=True)
    ]


async def post_claims(
    ctx: Context, remit_id: int, payer_id: str, items: Sequence[Matched]
) -> tuple[int, int]:
    """Posts each matched CLP unless its key was posted before. Returns (posted, duplicates).

    A reversal (CLP02 22) references the latest posting of the same claim (same payer
    claim number first) that no reversal has undone yet; its negative amounts undo it.
    """
    if not items:
        return 0, 0
    conn = ctx.conn
    tenant = ctx.meta.tenant
    reverses: dict[int, int] = {}
    reversals = [it for it in items if it.clp.is_reversal]
    if reversals:
        originals = await repo.reversible_postings(
            conn, tenant, payer_id, list({it.claim_id for it in reversals})
        )
        reverses = reversed_postings(reversals, originals)
    statuses = [status_of(it.clp).value for it in items]
    events = [adjudicated(it.clp, payer_id, it.claim_id) for it in items]
    ids = await repo.insert_postings(
        conn, remit_id, tenant, payer_id, items, statuses,
        [e.denial_category for e in events], reverses,
    )  # fmt: skip
    if not ids:
        return 0, len(items)
    book, threshold = await CONTRACTS.book(conn, tenant, payer_id)
    rows = PostingRows(tenant, payer_id, book, threshold)
    later = list({it.claim_id for it in items if it.claim_id and it.clp.status_code in LATER_PAYER})
    if book and later:  # a later payer's answer is checked against what the others paid
        rows.prior_paid = await repo.prior_paid(conn, tenant, payer_id, later)
    emit = []
    for it, ev in zip(items, events, strict=True):
        posting_id = ids.get(it.key)
        if posting_id is None:
            continue  # posted before: this delivery changes nothing
        rows.add(posting_id, it, reverses.get(it.index))
        emit.append((ev, it.claim_id))
    await repo.write_posting_rows(conn, rows)
    traces = await repo.traceparents(conn, tenant, list({c for _, c in emit}))
    await ctx.emit_many([(ev, claim_id, traces.get(claim_id)) for ev, claim_id in emit])
    return len(emit), len(items) - len(emit)
