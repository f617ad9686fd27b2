"""The payers' real-time eligibility: a 270 in, a 271 out, synchronously over HTTP.

``POST /x12/270`` (bearer: ``RCM_CLEARINGHOUSE_TOKEN``) with the 270 text as the body
answers 200 with a 271 (005010X279A1). HTTP rather than a Kafka request/reply
because that is what real-time eligibility is: CAQH CORE's real-time rule is a
synchronous HTTP exchange (20 s allowed), and a synchronous call keeps the round
trip to one loopback hop, where a request/reply over topics would add two produce
and two consume latencies (and a reply topic per caller) to every check. A body
that is not a 270 answers 400 with one line naming the segment and position.

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

No patient identifier is logged here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from runtime.service import Context, Service
from runtime.settings import settings
from runtime.x12 import (
    Delimiters,
    Envelope,
    X12Error,
    d8_element,
    delimiters_of,
    iter_segments,
    money,
    segment,
    transaction,
    wrap,
)
from schemas.common import Relationship
from schemas.events import EncounterCreated
from services.simulator.payers import PAYERS, PayerPlan

V271 = "005010X279A1"
PATH = "/x12/270"
CLEARINGHOUSE_ID = "SIMCLEARHOUSE"

#: Member id formats the simulated payers issue.
MEMBER_ID_FORMATS: dict[str, re.Pattern[str]] = {
    "MCR01": re.compile(r"^[1-9][A-Z0-9]{10}$"),
    "MCD01": re.compile(r"^MC\d{9}$"),
    "PPO01": re.compile(r"^BMP\d{9}$"),
    "HDHP1": re.compile(r"^SHD\d{8}01$"),
}


class RosterSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RCM_SIMULATOR_ELIGIBILITY_", env_file=".env", extra="ignore"
    )

    unknown_grace_s: float = 60.0
    roster_wait_s: float = Field(
        default=0.3,
        ge=0,
        le=10,
        description="Longest a 270 about a member not on the roster waits for the roster"
        " feed's next batches before the answer is AAA 42",
    )


@lru_cache(maxsize=1)
def roster_settings() -> RosterSettings:
    return RosterSettings()


# --- the inquiry -----------------------------------------------------------------


@dataclass(slots=True)
class Person270:
    last: str = ""
    first: str = ""
    birth_date: dt.date | None = None
    sex: str = ""


@dataclass(slots=True)
class Inquiry270:
    sender_qualifier: str = "ZZ"
    sender_id: str = ""
    reference: str = ""
    payer_id: str = ""
    payer_name: str = ""
    provider_name: str = ""
    provider_npi: str = ""
    member_id: str = ""
    trace: str = ""
    originator: str = ""
    subscriber: Person270 = field(default_factory=Person270)
    dependent: Person270 | None = None
    date_of_service: dt.date | None = None
    service_types: list[str] = field(default_factory=list)


def _el(seg: list[str], pos: int) -> str:
    return seg[pos] if pos < len(seg) else ""


def read_270(text: str) -> Inquiry270:
    """The one inquiry of a real-time 270. X12Error names what is wrong and where."""
    head = text.lstrip(" \t\r\n\ufeff")
    if not head.startswith("ISA"):
        raise X12Error("not X12: no ISA at the start", segment=1, position=0)
    d = delimiters_of(head)
    inq = Inquiry270()
    level = ""
    seen_st = False
    for n, seg in enumerate(iter_segments(head, d), 1):
        sid = seg[0]
        if sid == "ISA":
            inq.sender_qualifier, inq.sender_id = _el(seg, 5).strip(), _el(seg, 6).strip()
        elif sid == "ST":
            if _el(seg, 1) != "270":
                raise X12Error(f"expected a 270, found ST01 {_el(seg, 1)[:10]!r}", segment=n)
            seen_st = True
        elif sid == "BHT":
            inq.reference = _el(seg, 3)
        elif sid == "HL":
            level = _el(seg, 3)
        elif sid == "NM1":
            qual = _el(seg, 1)
            if qual == "PR":
                inq.payer_name, inq.payer_id = _el(seg, 3), _el(seg, 9)
            elif qual == "1P":
                inq.provider_name, inq.provider_npi = _el(seg, 3), _el(seg, 9)
            elif qual == "IL":
                inq.member_id = _el(seg, 9)
                inq.subscriber.last, inq.subscriber.first = _el(seg, 3), _el(seg, 4)
            elif qual == "03":
                inq.dependent = Person270(_el(seg, 3), _el(seg, 4))
        elif sid == "TRN" and _el(seg, 1) == "1":
            inq.trace, inq.originator = _el(seg, 2), _el(seg, 3)
        elif sid == "DMG" and _el(seg, 2):
            who = inq.dependent if level == "23" and inq.dependent else inq.subscriber
            who.birth_date = d8_element(seg[2], seg, 2, n)
            who.sex = _el(seg, 3)
        elif sid == "DTP" and _el(seg, 1) == "291":
            inq.date_of_service = d8_element(_el(seg, 3)[:8], seg, 3, n)
        elif sid == "EQ":
            inq.service_types.extend(s for s in _el(seg, 1).split(d.repetition) if s)
    if not seen_st:
        raise X12Error("no 270 transaction (no ST)")
    if not inq.payer_id:
        raise X12Error("no payer id (NM1*PR NM109)")
    if not inq.trace:
        raise X12Error("no trace number (TRN*1)")
    return inq


# --- the answer ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Enrollment:
    payer_id: str
    member_id: str
    plan: str
    effective_date: dt.date
    termination_date: dt.date | None
    subscriber_birth_date: dt.date | None
    dependents: tuple[dt.date, ...] = ()


@dataclass(frozen=True, slots=True)
class Met:
    deductible_met_cents: int = 0
    oop_met_cents: int = 0


Verdict = str  # "known", "unknown", "bad-id", "no-payer", "dob-mismatch"


def judge(inq: Inquiry270, enr: Enrollment | None) -> Verdict:
    if inq.payer_id not in PAYERS:
        return "no-payer"
    fmt = MEMBER_ID_FORMATS.get(inq.payer_id)
    if fmt is not None and not fmt.match(inq.member_id):
        return "bad-id"
    if enr is None:
        return "unknown"
    sub_dob = inq.subscriber.birth_date
    if sub_dob and enr.subscriber_birth_date and sub_dob != enr.subscriber_birth_date:
        return "dob-mismatch"
    dep = inq.dependent
    if dep is not None and dep.birth_date is not None and dep.birth_date not in enr.dependents:
        return "unknown"
    return "known"


def _fraction(rate: Decimal) -> str:
    text = format(rate.normalize(), "f")
    return text[1:] if text.startswith("0.") else text


def _benefits(plan: PayerPlan, met: Met) -> list[str]:
    b = plan.benefits
    eb: list[str] = [segment("EB", "1", "IND", "30", "", plan.plan)]
    if b.deductible_cents:
        left = max(0, b.deductible_cents - met.deductible_met_cents)
        eb += [
            segment(
                "EB", "C", "IND", "30", "", "", "23", money(b.deductible_cents), *[""] * 4, "Y"
            ),
            segment("EB", "C", "IND", "30", "", "", "29", money(left), *[""] * 4, "Y"),
            segment(
                "EB", "C", "IND", "30", "", "", "23", money(2 * b.deductible_cents), *[""] * 4, "N"
            ),
        ]
    if b.coinsurance:
        eb.append(
            segment(
                "EB", "A", "IND", "30", "", "", "", "", _fraction(b.coinsurance), *[""] * 3, "Y"
            )
        )
    if b.copay_cents:
        eb.append(
            segment("EB", "B", "IND", "98", "", "", "27", money(b.copay_cents), *[""] * 4, "Y")
        )
    eb.append(segment("EB", "B", "IND", "BZ", "", "", "27", "0", *[""] * 4, "Y"))
    if b.oop_max_cents is not None:
        left = max(0, b.oop_max_cents - met.oop_met_cents)
        eb += [
            segment("EB", "G", "IND", "30", "", "", "23", money(b.oop_max_cents), *[""] * 4, "Y"),
            segment("EB", "G", "IND", "30", "", "", "29", money(left), *[""] * 4, "Y"),
        ]
    return eb


def write_271(
    inq: Inquiry270,
    verdict: Verdict,
    enr: Enrollment | None,
    met: Met,
    *,
    envelope: Envelope,
    patient_unknown_final: bool = False,
) -> str:
    """The 271 for one inquiry. ``patient_unknown_final``: the grace for an unknown member
    is over, so say not found (75/67) instead of unable to respond (42)."""
    at = envelope.at or dt.datetime.now(dt.UTC)
    dos = inq.date_of_service or at.date()
    body = [
        segment("BHT", "0022", "11", inq.reference, f"{at:%Y%m%d}", f"{at:%H%M}"),
        segment("HL", "1", "", "20", "1"),
        segment("NM1", "PR", "2", inq.payer_name or "UNKNOWN PAYER", *[""] * 4, "PI", inq.payer_id),
    ]
    if verdict == "no-payer":
        body.append(segment("AAA", "N", "", "79", "C"))
        return _wrap(body, envelope, at)
    dependent = inq.dependent
    body += [
        segment("HL", "2", "1", "21", "1"),
        segment("NM1", "1P", "2", inq.provider_name, *[""] * 4, "XX", inq.provider_npi),
        segment("HL", "3", "2", "22", "1" if dependent else "0"),
    ]
    trn = segment("TRN", "2", inq.trace, inq.originator or "9SIMCLEARH")
    sub = inq.subscriber
    name = segment("NM1", "IL", "1", sub.last, sub.first, "", "", "", "MI", inq.member_id)
    if dependent is None:
        body += [trn, name]
    else:
        body.append(name)
    sub_dmg = [segment("DMG", "D8", f"{sub.birth_date:%Y%m%d}", sub.sex)] if sub.birth_date else []
    if verdict in ("bad-id", "dob-mismatch") or (verdict == "unknown" and dependent is None):
        code = {"bad-id": "72", "dob-mismatch": "71"}.get(
            verdict, "75" if patient_unknown_final else "42"
        )
        follow = "R" if code == "42" else "C"
        body += [segment("AAA", "Y" if code == "42" else "N", "", code, follow), *sub_dmg]
        return _wrap(body, envelope, at)
    body += sub_dmg
    if dependent is not None:
        body += [segment("HL", "4", "3", "23", "0"), trn]
        body.append(segment("NM1", "03", "1", dependent.last, dependent.first))
        if verdict == "unknown":
            code = "67" if patient_unknown_final else "42"
            body.append(segment("AAA", "Y", "", code, "C" if code == "67" else "R"))
            return _wrap(body, envelope, at)
        if dependent.birth_date:
            body.append(segment("DMG", "D8", f"{dependent.birth_date:%Y%m%d}", dependent.sex))
        body.append(segment("INS", "N", "19"))
    assert enr is not None
    body.append(segment("DTP", "346", "D8", f"{enr.effective_date:%Y%m%d}"))
    if enr.termination_date is not None:
        body.append(segment("DTP", "347", "D8", f"{enr.termination_date:%Y%m%d}"))
    in_force = enr.effective_date <= dos and (
        enr.termination_date is None or dos <= enr.termination_date
    )
    if not in_force:
        body.append(segment("EB", "6", "IND", "30", "", enr.plan))
    else:
        body += _benefits(PAYERS[enr.payer_id], met)
    return _wrap(body, envelope, at)


def _wrap(body: list[str], envelope: Envelope, at: dt.datetime) -> str:
    env = Envelope(
        sender_qualifier=envelope.sender_qualifier,
        sender_id=envelope.sender_id,
        receiver_qualifier=envelope.receiver_qualifier,
        receiver_id=envelope.receiver_id,
        functional_id="HB",
        version=V271,
        interchange_control_number=envelope.interchange_control_number,
        group_control_number=envelope.group_control_number,
        usage=envelope.usage,
        at=at,
    )
    return wrap(env, [transaction("271", "0001", body, V271)], Delimiters())


# --- the roster and the database -------------------------------------------------


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
        await ctx.defer(  # a batch's enrolments go as one executemany
            "INSERT INTO enrollment(payer_id, member_id, plan, group_number, effective_date,"
            " termination_date, subscriber_birth_date, dependents)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7,$8::date[])"
            " ON CONFLICT (payer_id, member_id) DO UPDATE SET plan=EXCLUDED.plan,"
            " group_number=EXCLUDED.group_number, effective_date=EXCLUDED.effective_date,"
            " termination_date=EXCLUDED.termination_date,"
            " subscriber_birth_date=coalesce(EXCLUDED.subscriber_birth_date,"
            "   enrollment.subscriber_birth_date),"
            " dependents=ARRAY(SELECT DISTINCT unnest(enrollment.dependents || EXCLUDED.dependents)),"
            " updated_at=now()",
            c.payer_id,
            c.member_id,
            PAYERS[c.payer_id].plan,
            c.group_number,
            c.effective_date,
            c.termination_date,
            sub_dob,
            deps,
        )


_ROSTER = (
    "SELECT nextval('interchange_control') AS icn, e.payer_id, e.member_id, e.plan,"
    " e.effective_date, e.termination_date, e.subscriber_birth_date, e.dependents,"
    " a.deductible_met_cents, a.oop_met_cents"
    " FROM unnest($1::text[], $2::text[], $3::int[]) WITH ORDINALITY AS q(payer_id, member_id, year, n)"
    " LEFT JOIN enrollment e ON e.payer_id=q.payer_id AND e.member_id=q.member_id"
    " LEFT JOIN accumulators a ON a.payer_id=q.payer_id AND a.member_id=q.member_id"
    " AND a.year=q.year ORDER BY q.n"
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
                        rows = await conn.fetch(
                            _ROSTER, *(list(c) for c in zip(*(k for k, _ in batch), strict=True))
                        )
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
    grace_s: float | None = None,
    roster_feed: RosterFeed | None = None,
) -> str:
    """Answers one 270 from the roster and the accumulators. X12Error on a bad 270.

    ``roster_feed``: the roster learns of members from encounter.created, the same
    events eligibility asks about, so a 270 can arrive a moment before its member's
    batch is applied; a member not found then waits for the feed's next batches (up to
    ``roster_wait_s``) before the answer is AAA 42 and a resubmission."""
    inq = read_270(text)
    cfg = roster_settings()
    grace = cfg.unknown_grace_s if grace_s is None else grace_s
    dos = inq.date_of_service or dt.datetime.now(dt.UTC).date()
    found = await _look_up(pool, inq, dos)
    if found.verdict == "unknown" and roster_feed is not None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + cfg.roster_wait_s
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
            first = await conn.fetchval(
                "INSERT INTO eligibility_unknown(payer_id, member_id, person) VALUES ($1,$2,$3)"
                " ON CONFLICT (payer_id, member_id, person)"
                " DO UPDATE SET asked=eligibility_unknown.asked+1 RETURNING first_asked_at",
                inq.payer_id,
                inq.member_id,
                key,
            )
        final = (dt.datetime.now(dt.UTC) - first).total_seconds() >= grace
    s = settings()
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


def _authorized(headers: Any) -> bool:
    value = headers.get("Authorization") or ""
    scheme, _, token = value.partition(" ")
    expected = settings().clearinghouse_token.get_secret_value()
    return scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), expected.encode())


Answer = tuple[int, str]


async def answer_request(
    pool: asyncpg.Pool,
    headers: Any,
    body: bytes,
    *,
    grace_s: float | None = None,
    roster_feed: RosterFeed | None = None,
) -> Answer:
    """HTTP status and body for one POST: the transport-neutral core of the route."""
    if not _authorized(headers):
        return 401, "missing or bad bearer token"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return 400, "bad 270: not UTF-8 text"
    try:
        return 200, await respond(pool, text, grace_s=grace_s, roster_feed=roster_feed)
    except X12Error as exc:
        return 400, f"bad 270: {exc}"


def aiohttp_app(
    pool_of: Callable[[], asyncpg.Pool],
    *,
    grace_s: float | None = None,
    roster_feed: RosterFeed | None = None,
) -> web.Application:
    """The same route as a plain aiohttp application (tests, benchmarks)."""

    async def post(request: web.Request) -> web.Response:
        status, text = await answer_request(
            pool_of(), request.headers, await request.read(), grace_s=grace_s,
            roster_feed=roster_feed,
        )  # fmt: skip
        return web.Response(text=text, status=status, content_type="application/edi-x12")

    app = web.Application()
    app.router.add_post(PATH, post)
    return app


def install(svc: Service) -> None:
    """Registers the roster feed and the real-time route on the simulator service."""
    from faust.web import View

    svc.on(EncounterCreated, on_encounter)

    def roster_feed() -> asyncio.Future[None]:
        return svc.next_commit(EncounterCreated.TOPIC)

    class RealTime270(View):
        async def post(self, request: Any, **kwargs: Any) -> Any:
            assert svc.pool is not None
            status, text = await answer_request(
                svc.pool, request.headers, await request.read(), roster_feed=roster_feed
            )
            return self.text(text, status=status, content_type="application/edi-x12")

    svc.app.page(PATH)(RealTime270)
