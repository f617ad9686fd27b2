"""The payers' real-time eligibility: a 270 in, a 271 out, synchronously over HTTPS.

The 270 comes in a CAQH CORE envelope to the clearinghouse's endpoint
(:mod:`services.simulator.core_web`), whose :func:`respond` answers with a 271
(005010X279A1). HTTP rather than a Kafka request/reply
because that is what real-time eligibility is: CAQH CORE's real-time rule is a
synchronous HTTP exchange (20 s allowed), and a synchronous call keeps the round
trip to one loopback hop, where a request/reply over topics would add two produce
and two consume latencies (and a reply topic per caller) to every check. A payload
that is not a 270 is refused (CORE ``PayloadIllegal``) naming the segment and position.

Who a payer covers (the roster): the synthetic world's truth is the coverage on
each encounter, so the simulator keeps an ``enrollment`` table fed from
encounter.created (member, plan, dates including termination, subscriber and
dependent birth dates). Answers:

- payer id the clearinghouse does not serve: AAA 79 (invalid participant) in 2100A;
- member id not in the payer's format: AAA 72 (invalid/missing subscriber id);
- member (or a dependent on the policy) not on the roster yet: AAA 42 (unable to
  respond now, resubmission allowed) for ``RCM_SIMULATOR_ELIGIBILITY_UNKNOWN_GRACE_S``
  seconds after the first inquiry about them, because the roster may simply not
  have consumed the encounter yet; after that AAA 75 (subscriber not found) or 67
  (patient not found);
- subscriber birth date that does not match the roster: AAA 71;
- on the roster, not covered on the date of service: EB 6 (inactive) with the plan
  begin/end dates (DTP 346/347);
- covered: EB 1 for 30 and the plan, then the plan's figures from
  :mod:`services.simulator.payers` in network (EB12 Y): deductible (C) and
  out-of-pocket maximum (G) for the calendar year (23) and what remains (29, from
  the ``accumulators`` table), coinsurance (A, EB08 fraction), the office visit copay
  (B, service type 98, per visit 27), no cost share for well visits (BZ); and an
  out-of-network deductible (EB12 N, twice the in-network one).

The 270 and 271 texts are :mod:`services.simulator.x12_271`, the verdict
:func:`services.simulator.coverage.judge`, the SQL :mod:`services.simulator.repository`.
No patient identifier is logged here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg

from runtime.service import Context
from runtime.settings import Settings, settings
from runtime.x12 import Envelope
from schemas.common import Relationship
from schemas.events import EncounterCreated
from services.simulator import repository
from services.simulator.clearinghouse import CLEARINGHOUSE_ID
from services.simulator.config import ROSTER_WAIT_S, UNKNOWN_GRACE_S
from services.simulator.coverage import Enrollment, Met, Verdict, judge
from services.simulator.payers import PAYERS
from services.simulator.x12_271 import V271, Inquiry270, read_270, write_271


async def on_encounter(ctx: Context, enc: EncounterCreated) -> None:
    """Each coverage on an encounter enrols its member (and the patient, if a dependent)."""
    for c in enc.coverages:
        if c.payer_id not in PAYERS:
            continue
        dependent = c.relationship is not Relationship.self_
        sub_dob = c.subscriber.birth_date if c.subscriber else None
        if not dependent:
            sub_dob = enc.patient.birth_date
        deps = [enc.patient.birth_date] if dependent else []
        await repository.enrol(
            ctx,
            c.payer_id,
            c.member_id,
            PAYERS[c.payer_id].plan,
            c.group_number,
            c.effective_date,
            c.termination_date,
            sub_dob,
            deps,
        )


RosterKey = tuple[str, str, int]


@dataclass
class RosterReads:
    """The roster reads of concurrent 270s, sent together. A read that arrives while
    one is in flight waits for it and then goes with every other that arrived
    meanwhile, in one statement: each answer still gets its member, its accumulators
    and its own control number, and no read ever waits for a timer."""

    pool: asyncpg.Pool
    queued: list[tuple[RosterKey, asyncio.Future[asyncpg.Record]]] = field(default_factory=list)
    drain: asyncio.Task[None] | None = None

    async def read(self, key: RosterKey) -> asyncpg.Record:
        answer: asyncio.Future[asyncpg.Record] = asyncio.get_running_loop().create_future()
        self.queued.append((key, answer))
        if self.drain is None:
            self.drain = asyncio.create_task(self._drain())
        return await answer

    async def _drain(self) -> None:
        try:
            while self.queued:
                batch, self.queued = self.queued, []
                try:
                    async with self.pool.acquire() as conn:
                        rows = await repository.read_roster(conn, [k for k, _ in batch])
                except BaseException as exc:  # every waiting 270 hears of it; none hangs
                    failed = isinstance(exc, Exception)
                    for _, answer in batch:
                        if answer.done():
                            continue
                        if failed:
                            answer.set_exception(exc)
                        else:
                            answer.cancel()
                    if not failed:
                        raise
                    continue
                for (_, answer), row in zip(batch, rows, strict=True):
                    if not answer.done():  # its caller may have gone (a dropped connection)
                        answer.set_result(row)
        finally:
            self.drain = None


_READS: dict[int, RosterReads] = {}


def roster_reads(pool: asyncpg.Pool) -> RosterReads:
    """The pool's one RosterReads (a pool keeps no attributes and no weak references)."""
    reads = _READS.get(id(pool))
    if reads is None or reads.pool is not pool:
        reads = _READS[id(pool)] = RosterReads(pool)
    return reads


#: Done when the roster feed has applied its next batch of encounters.
RosterFeed = Callable[[], Awaitable[None]]


@dataclass
class _Lookup:
    """One roster read for a 270: the member, their accumulators for the year, the
    interchange control number of the answer, and the verdict on the inquiry."""

    icn: int
    enr: Enrollment | None
    met: Met
    verdict: Verdict


async def _look_up(pool: asyncpg.Pool, inq: Inquiry270, dos: dt.date) -> _Lookup:
    # the member, their accumulators for the year and a control number, read together
    # with the other 270s in flight
    row = await roster_reads(pool).read((inq.payer_id, inq.member_id, dos.year))
    enr: Enrollment | None = None
    met = Met()
    if row["payer_id"] is not None and inq.payer_id in PAYERS:
        enr = Enrollment(
            payer_id=row["payer_id"],
            member_id=row["member_id"],
            plan=row["plan"],
            effective_date=row["effective_date"],
            termination_date=row["termination_date"],
            subscriber_birth_date=row["subscriber_birth_date"],
            dependents=tuple(row["dependents"]),
        )
        if row["deductible_met_cents"] is not None:
            met = Met(row["deductible_met_cents"], row["oop_met_cents"])
    return _Lookup(row["icn"], enr, met, judge(inq, enr))


async def respond(
    pool: asyncpg.Pool,
    text: str,
    *,
    grace_s: float = UNKNOWN_GRACE_S,
    roster_feed: RosterFeed | None = None,
    roster_wait_s: float = ROSTER_WAIT_S,
    s: Settings | None = None,
) -> str:
    """Answers one 270 from the roster and the accumulators. X12Error on a bad 270.

    ``roster_feed``: the roster learns of members from encounter.created, the same
    events eligibility asks about, so a 270 can arrive a moment before its member's
    batch is applied; a member not found then waits for the feed's next batches (up to
    ``roster_wait_s``) before the answer is AAA 42 and a resubmission."""
    inq = read_270(text)
    dos = inq.date_of_service or dt.datetime.now(dt.UTC).date()
    found = await _look_up(pool, inq, dos)
    if found.verdict == "unknown" and roster_feed is not None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + roster_wait_s
        while found.verdict == "unknown" and (left := deadline - loop.time()) > 0:
            try:
                await asyncio.wait_for(roster_feed(), left)
            except TimeoutError:
                break
            found = await _look_up(pool, inq, dos)
    icn, enr, met, verdict = found.icn, found.enr, found.met, found.verdict
    final = False
    if verdict == "unknown":
        who = inq.dependent.birth_date if inq.dependent else None
        key = who.isoformat() if who else ""
        async with pool.acquire() as conn:
            first = await repository.asked_unknown(conn, inq.payer_id, inq.member_id, key)
        final = (dt.datetime.now(dt.UTC) - first).total_seconds() >= grace_s
    s = s or settings()
    env = Envelope(
        sender_qualifier="ZZ",
        sender_id=CLEARINGHOUSE_ID,
        receiver_qualifier=inq.sender_qualifier or "ZZ",
        receiver_id=inq.sender_id or s.x12_submitter_id,
        functional_id="HB",
        version=V271,
        interchange_control_number=icn,
        group_control_number=icn,
        usage=s.x12_usage,
    )
    return write_271(inq, verdict, enr, met, envelope=env, patient_unknown_final=final)
