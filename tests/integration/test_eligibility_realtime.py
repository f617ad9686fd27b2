"""Eligibility against the payer simulator over real HTTP, on the real database.

The simulator's responder is served in-process (aiohttp on loopback) over its own
schema, its roster fed through its real encounter.created handler; the eligibility
handlers run on a schema of their own, and the timer is driven by hand.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import services.eligibility.app as eligibility_app
import services.eligibility.timers as timers_module
import services.simulator.app as simulator_app
from runtime.service import Record, Service
from runtime.settings import Settings
from schemas.codec import decode, encode, new_meta
from schemas.common import Coverage
from schemas.events import ClaimHeld, EligibilityChecked, EncounterCreated, Event
from schemas.ids import claim_id_for
from services.eligibility import handlers as eligibility_handlers
from services.eligibility.client import HttpTransport
from services.eligibility.config import EligibilitySettings
from services.eligibility.domain import Verify, inquiry_for, precheck
from services.eligibility.timers import Verifier
from services.eligibility.x12_270 import write_270
from services.simulator import eligibility as payer
from tests.builders import encounter
from tests.throwaway import running_timers
from tests.unit.factories import coverage, dependent_coverage, person
from tests.unit.test_eligibility_x12 import ENV

pytestmark = pytest.mark.integration

TENANT = "it-elig"
DOS = dt.date(2025, 3, 14)


def _record(enc: EncounterCreated, offset: int) -> Record:
    x = encode(enc, new_meta(enc, source="test", tenant=TENANT, correlation_id=enc.encounter_id))
    return Record("encounter.created", 0, offset, x.key, x.value, x.headers)


@dataclass
class World:
    sim: Service
    elig: Service
    verifier: Verifier
    offset: int = 0

    async def roster(self, *encs: EncounterCreated) -> None:
        """The payer learns of these encounters' coverages."""
        recs = []
        for e in encs:
            self.offset += 1
            recs.append(_record(e, self.offset))
        await self.sim.process("encounter.created", recs)

    async def visit(self, *encs: EncounterCreated) -> None:
        recs = []
        for e in encs:
            self.offset += 1
            recs.append(_record(e, self.offset))
        await self.elig.process("encounter.created", recs)

    async def settle(self, runs: int = 20) -> None:
        for _ in range(runs):
            if await self.verifier.verify_due(self.elig) == 0:
                return

    async def events(self) -> dict[str, Event]:
        """The last event the outbox holds for each claim."""
        assert self.elig.pool is not None
        out: dict[str, Event] = {}
        for row in await self.elig.pool.fetch("SELECT value, headers FROM outbox ORDER BY id"):
            headers = [(k, base64.b64decode(v)) for k, v in orjson.loads(row["headers"])]
            ev = decode(row["value"], headers).event
            out[getattr(ev, "claim_id", "")] = ev
        return out

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        assert self.elig.pool is not None
        return list(await self.elig.pool.fetch(sql, *args))


def _cid(enc: EncounterCreated) -> str:
    return claim_id_for(TENANT, enc.encounter_id)


async def _serve(app: web.Application) -> TestServer:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


@pytest.fixture
async def world(live_stack: Settings) -> AsyncIterator[World]:
    tag = uuid.uuid4().hex[:8]
    sim = Service(
        "it-sim",
        schema=f"it_sim_{tag}",
        migrations=Path(simulator_app.__file__).parent / "migrations",
        http_port=6197,
        s=live_stack,
    )
    sim.on(EncounterCreated, payer.on_encounter)
    elig_svc = Service(
        "it-elig",
        schema=f"it_elig_{tag}",
        migrations=Path(eligibility_app.__file__).parent / "migrations",
        http_port=6198,
        s=live_stack,
    )
    await sim.start_resources()
    await elig_svc.start_resources()
    server = await _serve(payer.aiohttp_app(lambda: sim.pool, grace_s=3600))  # type: ignore[arg-type,return-value]
    cfg = EligibilitySettings(timeout_s=2.0, max_attempts=3, backoff_s=0, reuse_s=600)
    transport = HttpTransport(live_stack, timeout_s=cfg.timeout_s, url=str(server.make_url("")))
    elig_svc.on_many(EncounterCreated, partial(eligibility_handlers.on_encounters, cfg=cfg))
    try:
        yield World(sim, elig_svc, Verifier(cfg, live_stack, transport))
    finally:
        await transport.close()
        await server.close()
        for svc in (sim, elig_svc):
            assert svc.pool is not None
            await svc.pool.execute(f"DROP SCHEMA {svc.schema} CASCADE")
            await svc.stop_resources()


def ppo(member: str, **kw: Any) -> Coverage:
    return coverage(payer_id="PPO01", payer_name="BLUE MEADOW PPO", member_id=member, **kw)


def enc_for(n: int, coverages: list[Coverage], **kw: Any) -> EncounterCreated:
    return encounter(
        encounter_id=f"E-{n}",
        patient=person(id=f"MRN{n:04d}"),
        coverages=coverages,
        **kw,
    )


async def test_each_kind_of_coverage_ends_where_it_should(world: World) -> None:
    active = enc_for(1, [ppo("BMP000000001")])
    payer_ended = enc_for(2, [ppo("BMP000000002")])  # the payer knows it ended; the registry not
    registry_ended = enc_for(3, [ppo("BMP000000003", termination_date=dt.date(2025, 1, 31))])
    self_pay = enc_for(4, [])
    child_cov = dependent_coverage(
        payer_id="PPO01", payer_name="BLUE MEADOW PPO", member_id="BMP000000005"
    )
    dependent = enc_for(5, [child_cov])
    medicare = coverage(payer_id="MCR01", payer_name="MEDICARE PART B SIM", member_id="1EG4TE5MK05")
    medicaid = coverage(
        payer_id="MCD01", payer_name="STATE MEDICAID SIM", member_id="MC000000006", priority=2
    )
    with_secondary = enc_for(6, [medicare, medicaid])
    bad_id = enc_for(7, [ppo("BMP7")])
    await world.roster(
        active,
        payer_ended.model_copy(
            update={"coverages": [ppo("BMP000000002", termination_date=dt.date(2025, 2, 28))]}
        ),
        dependent,
        with_secondary,
    )
    assert world.sim.pool is not None
    await world.sim.pool.execute(
        "INSERT INTO accumulators(payer_id, member_id, year, deductible_met_cents, oop_met_cents)"
        " VALUES ('PPO01', 'BMP000000001', 2025, 20000, 45000)"
    )
    await world.visit(
        active, payer_ended, registry_ended, self_pay, dependent, with_secondary, bad_id
    )
    await world.settle()
    ev = await world.events()

    ok = ev[_cid(active)]
    assert isinstance(ok, EligibilityChecked)
    assert (ok.active, ok.payer_id, ok.copay_cents) == (True, "PPO01", 2500)
    assert ok.deductible_remaining_cents == 30000
    assert ok.out_of_pocket_remaining_cents == 400000 - 45000

    for enc, code in ((payer_ended, "COVERAGE-ENDED"), (registry_ended, "COVERAGE-ENDED")):
        held = ev[_cid(enc)]
        assert isinstance(held, ClaimHeld)
        assert held.stage == "eligibility"
        assert [r.code for r in held.reasons] == [code]
    assert "2025-02-28" in ev[_cid(payer_ended)].reasons[0].message  # type: ignore[union-attr]

    sp = ev[_cid(self_pay)]
    assert isinstance(sp, EligibilityChecked)
    assert sp.self_pay

    dep = ev[_cid(dependent)]
    assert isinstance(dep, EligibilityChecked)
    assert dep.active is True

    sec = ev[_cid(with_secondary)]
    assert isinstance(sec, EligibilityChecked)
    assert sec.payer_id == "MCR01"
    assert sec.copay_cents is None
    assert sec.deductible_remaining_cents == 25700

    rejected = ev[_cid(bad_id)]
    assert isinstance(rejected, ClaimHeld)
    assert [r.code for r in rejected.reasons] == ["AAA-72"]

    rows = {
        r["claim_id"]: r
        for r in await world.fetch(
            "SELECT c.claim_id, c.outcome, c.secondary_payer_id, x.request_x12, x.response_x12"
            " FROM eligibility_checks c LEFT JOIN exchanges x ON x.id = c.exchange_id"
        )
    }
    assert rows[_cid(with_secondary)]["secondary_payer_id"] == "MCD01"
    assert "HL*4*3*23*0~" in rows[_cid(dependent)]["request_x12"]  # asked about the child
    assert rows[_cid(registry_ended)]["request_x12"] is None  # nobody was asked
    assert rows[_cid(self_pay)]["outcome"] == "self_pay"
    assert "EB*6*IND*30" in rows[_cid(payer_ended)]["response_x12"]  # the 271 is kept
    # every check is decided: the queue is empty (it keeps no encounter once decided)
    assert await world.fetch("SELECT 1 FROM pending_checks") == []


async def test_a_member_the_payer_does_not_know_yet_is_retried_until_it_does(world: World) -> None:
    enc = enc_for(11, [ppo("BMP000000011")])
    await world.visit(enc)
    await world.verifier.verify_due(world.elig)  # AAA 42: not on the roster yet
    [pending] = await world.fetch("SELECT state, attempts, last_error FROM pending_checks")
    assert (pending["state"], pending["attempts"]) == ("pending", 1)
    assert "AAA 42" in pending["last_error"]
    assert _cid(enc) not in await world.events()
    await world.roster(enc)  # the simulator catches up
    await world.settle()
    ev = (await world.events())[_cid(enc)]
    assert isinstance(ev, EligibilityChecked)
    assert ev.active is True
    # both exchanges are kept, each with what was asked, of whom, and what came of it
    tried, answered = await world.fetch(
        "SELECT payer_id, member_id, patient_id, date_of_service, trace, outcome, problem,"
        " reusable, request_x12, response_x12 FROM exchanges ORDER BY id"
    )
    cov = enc.coverages[0]
    for x in (tried, answered):
        assert (x["payer_id"], x["member_id"]) == (cov.payer_id, cov.member_id)
        assert (x["patient_id"], x["date_of_service"]) == (enc.patient.id, enc.date_of_service)
        assert x["trace"]
        assert x["trace"] in x["request_x12"]
    assert (tried["outcome"], tried["reusable"]) == ("retry", False)
    assert "AAA 42" in tried["problem"]
    assert "*42*" in tried["response_x12"]
    assert (answered["outcome"], answered["reusable"], answered["problem"]) == (
        "answered",
        True,
        None,
    )


async def test_a_member_the_payer_never_finds_is_held_75(world: World) -> None:
    enc = enc_for(12, [ppo("BMP000000012")])
    assert world.sim.pool is not None
    await world.sim.pool.execute(  # asked about long ago: the roster is not just lagging
        "INSERT INTO eligibility_unknown(payer_id, member_id, person, first_asked_at)"
        " VALUES ('PPO01', 'BMP000000012', '', now() - interval '2 hours')"
    )
    await world.visit(enc)
    await world.settle()
    held = (await world.events())[_cid(enc)]
    assert isinstance(held, ClaimHeld)
    assert [r.code for r in held.reasons] == ["AAA-75"]


async def test_a_271_is_reused_for_the_same_member_payer_and_date(world: World) -> None:
    first = enc_for(21, [ppo("BMP000000021")])
    again = first.model_copy(update={"encounter_id": "E-21b"})
    await world.roster(first)
    await world.visit(first)
    await world.settle()
    await world.visit(again)
    await world.settle()
    ev = (await world.events())[_cid(again)]
    assert isinstance(ev, EligibilityChecked)
    assert ev.copay_cents == 2500
    assert any("reused" in r for r in ev.reasons)
    assert len(await world.fetch("SELECT 1 FROM exchanges")) == 1


async def test_a_payer_that_does_not_answer_is_retried_then_held(
    world: World, live_stack: Settings
) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1.0)
        return web.Response(text="too late")

    app = web.Application()
    app.router.add_post(payer.PATH, slow)
    server = await _serve(app)
    cfg = EligibilitySettings(timeout_s=0.2, max_attempts=3, backoff_s=0)
    transport = HttpTransport(live_stack, timeout_s=cfg.timeout_s, url=str(server.make_url("")))
    verifier = Verifier(cfg, live_stack, transport)
    try:
        world.verifier = verifier
        world.elig.handlers.clear()
        world.elig.on_many(EncounterCreated, partial(eligibility_handlers.on_encounters, cfg=cfg))
        enc = enc_for(31, [ppo("BMP000000031")])
        await world.visit(enc)
        for attempt in (1, 2):
            await verifier.verify_due(world.elig)
            assert _cid(enc) not in await world.events(), f"held after attempt {attempt}"
        await verifier.verify_due(world.elig)
        held = (await world.events())[_cid(enc)]
        assert isinstance(held, ClaimHeld)
        [reason] = held.reasons
        assert reason.code == "PAYER-NO-RESPONSE"
        assert "after 3 attempts" in reason.message
        tries = await world.fetch("SELECT outcome, problem FROM exchanges ORDER BY id")
        assert [t["outcome"] for t in tries] == ["retry"] * 3
        assert "no 271 within 0.2 s" in tries[0]["problem"]
    finally:
        await transport.close()
        await server.close()


async def test_an_unreadable_271_holds_the_claim_with_the_segment_and_keeps_the_text(
    world: World, live_stack: Settings
) -> None:
    async def broken(request: web.Request) -> web.Response:
        good = await payer.respond(world.sim.pool, await request.text(), grace_s=0)  # type: ignore[arg-type]
        return web.Response(text=good.replace("EB*1*IND*30", "EB**IND*30"))

    app = web.Application()
    app.router.add_post(payer.PATH, broken)
    server = await _serve(app)
    cfg = EligibilitySettings(reuse_s=0)
    transport = HttpTransport(live_stack, timeout_s=cfg.timeout_s, url=str(server.make_url("")))
    verifier = Verifier(cfg, live_stack, transport)
    try:
        enc = enc_for(41, [ppo("BMP000000041")])
        await world.roster(enc)
        await world.visit(enc)
        world.verifier = verifier
        await world.settle()
        held = (await world.events())[_cid(enc)]
        assert isinstance(held, ClaimHeld)
        [reason] = held.reasons
        assert reason.code == "ELIGIBILITY-271-UNREADABLE"
        assert "EB01 is missing (segment 14, position 1)" in reason.message
        [kept] = await world.fetch("SELECT outcome, response_x12 FROM exchanges")
        assert kept["outcome"] == "unreadable"
        assert "EB**IND*30" in kept["response_x12"]
    finally:
        await transport.close()
        await server.close()


async def test_an_answer_that_cannot_be_applied_holds_its_claim_alone(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    encs = [enc_for(40 + i, [ppo(f"BMP0000000{40 + i}")]) for i in range(3)]
    await world.roster(*encs)
    broken = _cid(encs[1])
    real = timers_module.from_271

    def from_271(claim_id: str, *args: Any, **kw: Any) -> Any:
        if claim_id == broken:
            raise RuntimeError("a bug while reading this 271")
        return real(claim_id, *args, **kw)

    monkeypatch.setattr(timers_module, "from_271", from_271)
    await world.visit(*encs)
    await world.settle()
    ev = await world.events()
    held = ev[broken]
    assert isinstance(held, ClaimHeld)
    assert [r.code for r in held.reasons] == ["ELIGIBILITY-CHECK-FAILED"]
    for enc in (encs[0], encs[2]):
        ok = ev[_cid(enc)]
        assert isinstance(ok, EligibilityChecked)
        assert ok.active
    # one decision per claim: the failed all-at-once pass wrote nothing
    assert world.elig.pool is not None
    assert await world.elig.pool.fetchval("SELECT count(*) FROM outbox") == 3
    assert await world.fetch("SELECT 1 FROM pending_checks") == []  # all three decided


async def test_two_visits_in_one_batch_keep_the_coverage_history(world: World) -> None:
    first = enc_for(50, [ppo("BMP000000050", group_number="G1")])
    second = enc_for(50, [ppo("BMP000000050", group_number="G2")]).model_copy(
        update={"encounter_id": "E-50b"}
    )
    await world.visit(first, second, first.model_copy(update={"encounter_id": "E-50c"}))
    rows = await world.fetch(
        "SELECT group_number, valid_to IS NULL AS current FROM coverages"
        " WHERE patient_id = 'MRN0050' ORDER BY id"
    )
    # G1, then G2 replacing it, then G1 again replacing G2: every version kept, one current
    assert [(r["group_number"], r["current"]) for r in rows] == [
        ("G1", False),
        ("G2", False),
        ("G1", True),
    ]


async def test_concurrent_inquiries_each_get_their_own_members_answer(world: World) -> None:
    """The payer reads the roster for 270s in flight together; each 271 still answers
    its own member, with that member's accumulators and its own control number."""
    encs = [enc_for(100 + i, [ppo(f"BMP{100 + i:09d}")]) for i in range(40)]
    await world.roster(*encs)
    assert world.sim.pool is not None
    await world.sim.pool.executemany(  # every member has met a different deductible
        "INSERT INTO accumulators(payer_id, member_id, year, deductible_met_cents, oop_met_cents)"
        " VALUES ('PPO01', $1, 2025, $2, 0)",
        [(f"BMP{100 + i:09d}", 1000 * i) for i in range(40)],
    )
    await world.visit(*encs)
    await world.settle()
    ev = await world.events()
    for i, enc in enumerate(encs):
        checked = ev[_cid(enc)]
        assert isinstance(checked, EligibilityChecked)
        assert checked.deductible_remaining_cents == 50000 - 1000 * i, enc.encounter_id
    answers = [r["response_x12"] for r in await world.fetch("SELECT response_x12 FROM exchanges")]
    icns = {a.split("*")[13] for a in answers}
    assert len(answers) == len(icns) == 40


async def test_a_failed_roster_read_answers_every_waiting_inquiry(world: World) -> None:
    assert world.elig.pool is not None
    reads = payer.RosterReads(world.elig.pool)  # a schema with no roster
    keys = [("PPO01", f"BMP{i:09d}", 2025) for i in range(5)]
    results = await asyncio.gather(*(reads.read(k) for k in keys), return_exceptions=True)
    assert all("enrollment" in str(r) for r in results), results
    assert reads.drain is None
    assert reads.queued == []
    assert world.sim.pool is not None
    good = payer.RosterReads(world.sim.pool)
    row = await good.read(("PPO01", "BMP000000001", 2025))
    assert row["payer_id"] is None  # not on the roster
    assert row["icn"] > 0  # and still numbered


async def test_a_retry_is_asked_again_when_due_not_a_timer_period_later(world: World) -> None:
    """With the timer's period an hour, a batch's new check is still asked at once and
    each retry it schedules (0.2 s, then 0.4 s) is asked again as soon as it is due,
    until the attempts are used up and the claim is held. A check already due that
    another instance is asking does not hide the retries due after it."""
    world.verifier.cfg = world.verifier.cfg.model_copy(update={"backoff_s": 0.2})
    runs = 0
    real = world.verifier.verify_due

    async def counted(svc: Service) -> int:
        nonlocal runs
        runs += 1
        return await real(svc)

    world.verifier.verify_due = counted  # type: ignore[method-assign]
    world.elig.every(3600, world.verifier.verify_due, woken_by=["encounter.created"])
    pool = world.elig.pool
    assert pool is not None
    await pool.execute(
        "INSERT INTO pending_checks(claim_id, tenant, encounter, cause, payer_id, next_at)"
        " VALUES ('ELSEWHERE', $1, '{}', 'x', 'PPO01', now() - interval '1 s')",
        TENANT,
    )
    async with pool.acquire() as other, other.transaction():  # another instance's check
        await other.execute("SELECT 1 FROM pending_checks WHERE claim_id = 'ELSEWHERE' FOR UPDATE")
        async with running_timers(world.elig):
            enc = enc_for(31, [ppo("BMP000000031")])  # never on the payer's roster: AAA 42
            await world.visit(enc)
            held = None
            for _ in range(100):
                held = (await world.events()).get(_cid(enc))
                if held is not None:
                    break
                await asyncio.sleep(0.05)
            assert isinstance(held, ClaimHeld)
            # decided: it left the queue, and its three attempts are kept as exchanges
            assert (
                await world.fetch("SELECT 1 FROM pending_checks WHERE claim_id <> 'ELSEWHERE'")
                == []
            )
            tries = await world.fetch(
                "SELECT outcome FROM exchanges WHERE claim_id = $1", _cid(enc)
            )
            assert len(tries) == 3
            assert runs < 30  # woken when due, never spinning on the check held elsewhere


async def test_a_270_a_moment_ahead_of_its_roster_waits_for_the_roster_feed(
    world: World,
) -> None:
    """The payer's roster learns of members from encounter.created, the events
    eligibility asks about, so a 270 can come first. It is answered once the roster's
    batch with its member commits (covered: no AAA 42 and resubmission), whatever other
    batches commit before; a member no batch brings gets AAA 42 when the wait is over."""
    assert world.sim.pool is not None
    pool = world.sim.pool

    def feed() -> asyncio.Future[None]:
        return world.sim.next_commit("encounter.created")

    def inquiry(enc: EncounterCreated) -> str:
        verify = precheck(_cid(enc), enc, list(enc.coverages))
        assert isinstance(verify, Verify)
        return write_270(inquiry_for(enc, verify.primary, trace="41"), envelope=ENV)

    enc = enc_for(41, [ppo("BMP000000041")])
    asking = asyncio.create_task(payer.respond(pool, inquiry(enc), grace_s=3600, roster_feed=feed))
    await asyncio.sleep(0.05)
    assert not asking.done()  # waiting for the roster
    await world.roster(enc_for(43, [ppo("BMP000000043")]))  # another member's batch
    await asyncio.sleep(0.05)
    assert not asking.done()
    await world.roster(enc)
    answer = await asyncio.wait_for(asking, 2)
    assert "AAA*" not in answer
    assert "EB*1*" in answer

    start = asyncio.get_running_loop().time()
    stranger = enc_for(42, [ppo("BMP000000042")])
    answer = await payer.respond(pool, inquiry(stranger), grace_s=3600, roster_feed=feed)
    assert "AAA*Y**42*R" in answer
    assert asyncio.get_running_loop().time() - start >= 0.25  # waited out roster_wait_s
