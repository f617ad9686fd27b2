"""Eligibility against the payer simulator over real HTTP, on the real database: what
each kind of coverage ends as, 271s reused, many inquiries at once, and the payer's
roster (tests/integration/eligibility_world.py sets the world up)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from runtime.settings import Settings
from schemas.events import ClaimHeld, EligibilityChecked, EncounterCreated
from services.eligibility.domain import Verify, inquiry_for, precheck
from services.eligibility.x12_270 import write_270
from services.simulator import eligibility as payer
from tests.integration.eligibility_world import (
    World,
    cid,
    enc_for,
    open_world,
    ppo,
)
from tests.unit.factories import coverage, dependent_coverage
from tests.unit.test_eligibility_x12 import ENV

pytestmark = pytest.mark.integration


@pytest.fixture
async def world(live_stack: Settings) -> AsyncIterator[World]:
    async with open_world(live_stack) as w:
        yield w


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

    ok = ev[cid(active)]
    assert isinstance(ok, EligibilityChecked)
    assert (ok.active, ok.payer_id, ok.copay_cents) == (True, "PPO01", 2500)
    assert ok.deductible_remaining_cents == 30000
    assert ok.out_of_pocket_remaining_cents == 400000 - 45000

    for enc, code in ((payer_ended, "COVERAGE-ENDED"), (registry_ended, "COVERAGE-ENDED")):
        held = ev[cid(enc)]
        assert isinstance(held, ClaimHeld)
        assert held.stage == "eligibility"
        assert [r.code for r in held.reasons] == [code]
    assert "2025-02-28" in ev[cid(payer_ended)].reasons[0].message  # type: ignore[union-attr]

    sp = ev[cid(self_pay)]
    assert isinstance(sp, EligibilityChecked)
    assert sp.self_pay

    dep = ev[cid(dependent)]
    assert isinstance(dep, EligibilityChecked)
    assert dep.active is True

    sec = ev[cid(with_secondary)]
    assert isinstance(sec, EligibilityChecked)
    assert sec.payer_id == "MCR01"
    assert sec.copay_cents is None
    assert sec.deductible_remaining_cents == 25700

    rejected = ev[cid(bad_id)]
    assert isinstance(rejected, ClaimHeld)
    assert [r.code for r in rejected.reasons] == ["AAA-72"]

    rows = {
        r["claim_id"]: r
        for r in await world.fetch(
            "SELECT c.claim_id, c.outcome, c.secondary_payer_id, x.request_x12, x.response_x12"
            " FROM eligibility_checks c LEFT JOIN exchanges x ON x.id = c.exchange_id"
        )
    }
    assert rows[cid(with_secondary)]["secondary_payer_id"] == "MCD01"
    assert "HL*4*3*23*0~" in rows[cid(dependent)]["request_x12"]  # asked about the child
    assert rows[cid(registry_ended)]["request_x12"] is None  # nobody was asked
    assert rows[cid(self_pay)]["outcome"] == "self_pay"
    assert "EB*6*IND*30" in rows[cid(payer_ended)]["response_x12"]  # the 271 is kept
    # every check is decided: the queue is empty (it keeps no encounter once decided)
    assert await world.fetch("SELECT 1 FROM pending_checks") == []


async def test_a_member_the_payer_does_not_know_yet_is_retried_until_it_does(world: World) -> None:
    enc = enc_for(11, [ppo("BMP000000011")])
    await world.visit(enc)
    await world.verifier.verify_due(world.elig)  # AAA 42: not on the roster yet
    [pending] = await world.fetch("SELECT state, attempts, last_error FROM pending_checks")
    assert (pending["state"], pending["attempts"]) == ("pending", 1)
    assert "AAA 42" in pending["last_error"]
    assert cid(enc) not in await world.events()
    await world.roster(enc)  # the simulator catches up
    await world.settle()
    ev = (await world.events())[cid(enc)]
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
    held = (await world.events())[cid(enc)]
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
    ev = (await world.events())[cid(again)]
    assert isinstance(ev, EligibilityChecked)
    assert ev.copay_cents == 2500
    assert any("reused" in r for r in ev.reasons)
    assert len(await world.fetch("SELECT 1 FROM exchanges")) == 1


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
        checked = ev[cid(enc)]
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
        verify = precheck(cid(enc), enc, list(enc.coverages))
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


async def test_a_271_with_recoverable_faults_is_acted_on_and_its_faults_logged(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = payer.write_271

    def sloppy(*args: Any, **kw: Any) -> str:  # a payer whose SE01 and plan date are off
        text = write(*args, **kw)
        return re.sub(r"SE\*\d+\*", "SE*2*", text).replace("DTP*346*D8*2025", "DTP*346*D8*2O25")

    monkeypatch.setattr(payer, "write_271", sloppy)
    enc = enc_for(41, [ppo("BMP000000041")])
    await world.roster(enc)
    await world.visit(enc)
    await world.settle()
    ev = (await world.events())[cid(enc)]
    assert isinstance(ev, EligibilityChecked)
    assert (ev.active, ev.copay_cents) == (True, 2500)
    [x] = await world.fetch("SELECT outcome, problem FROM exchanges")
    assert x["outcome"] == "answered"
    assert x["problem"].startswith("read through 2 faults: DTP03 is not a CCYYMMDD date")
    assert "SE01 says '2' segments" in x["problem"]
