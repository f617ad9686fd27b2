"""Eligibility when the payer's answer does not decide: a payer that does not answer,
an unreadable 271, an answer that cannot be applied, and retries asked again as soon as
they are due (tests/integration/eligibility_world.py sets the world up)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import pytest

import services.eligibility.timers as timers_module
from runtime.service import Service
from runtime.settings import Settings
from schemas.events import ClaimHeld, EligibilityChecked, EncounterCreated
from services.eligibility import handlers as eligibility_handlers
from services.eligibility.config import EligibilitySettings
from services.eligibility.timers import Verifier
from services.simulator import eligibility as payer
from tests.integration.eligibility_world import (
    TENANT,
    World,
    cid,
    core_transport,
    enc_for,
    open_world,
    ppo,
)
from tests.throwaway import running_timers

pytestmark = pytest.mark.integration


@pytest.fixture
async def world(live_stack: Settings) -> AsyncIterator[World]:
    async with open_world(live_stack) as w:
        yield w


async def test_a_payer_that_does_not_answer_is_retried_then_held(
    world: World, live_stack: Settings
) -> None:
    async def slow(payload_type: str, x12: str) -> str:
        await asyncio.sleep(1.0)
        return "too late"

    cfg = EligibilitySettings(timeout_s=0.2, max_attempts=3, backoff_s=0)
    async with core_transport(live_stack, slow) as transport:
        verifier = Verifier(cfg, live_stack, transport)
        world.verifier = verifier
        world.elig.handlers.clear()
        world.elig.on_many(EncounterCreated, partial(eligibility_handlers.on_encounters, cfg=cfg))
        enc = enc_for(31, [ppo("BMP000000031")])
        await world.visit(enc)
        for attempt in (1, 2):
            await verifier.verify_due(world.elig)
            assert cid(enc) not in await world.events(), f"held after attempt {attempt}"
        await verifier.verify_due(world.elig)
    held = (await world.events())[cid(enc)]
    assert isinstance(held, ClaimHeld)
    [reason] = held.reasons
    assert reason.code == "PAYER-NO-RESPONSE"
    assert "after 3 attempts" in reason.message
    tries = await world.fetch("SELECT outcome, problem FROM exchanges ORDER BY id")
    assert [t["outcome"] for t in tries] == ["retry"] * 3
    assert "no 271 within 0.2 s" in tries[0]["problem"]


async def test_an_unreadable_271_holds_the_claim_with_the_segment_and_keeps_the_text(
    world: World, live_stack: Settings
) -> None:
    async def broken(payload_type: str, x12: str) -> str:
        good = await payer.respond(world.sim.pool, x12, grace_s=0)  # type: ignore[arg-type]
        return good.replace("EB*1*IND*30", "EB**IND*30")

    cfg = EligibilitySettings(reuse_s=0)
    async with core_transport(live_stack, broken) as transport:
        enc = enc_for(41, [ppo("BMP000000041")])
        await world.roster(enc)
        await world.visit(enc)
        world.verifier = Verifier(cfg, live_stack, transport)
        await world.settle()
    held = (await world.events())[cid(enc)]
    assert isinstance(held, ClaimHeld)
    [reason] = held.reasons
    assert reason.code == "ELIGIBILITY-271-UNREADABLE"
    assert "EB01 is missing (segment 14, position 1)" in reason.message
    [kept] = await world.fetch("SELECT outcome, response_x12 FROM exchanges")
    assert kept["outcome"] == "unreadable"
    assert "EB**IND*30" in kept["response_x12"]


async def test_an_answer_that_cannot_be_applied_holds_its_claim_alone(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    encs = [enc_for(40 + i, [ppo(f"BMP0000000{40 + i}")]) for i in range(3)]
    await world.roster(*encs)
    broken = cid(encs[1])
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
        ok = ev[cid(enc)]
        assert isinstance(ok, EligibilityChecked)
        assert ok.active
    # one decision per claim: the failed all-at-once pass wrote nothing
    assert world.elig.pool is not None
    assert await world.elig.pool.fetchval("SELECT count(*) FROM outbox") == 3
    assert await world.fetch("SELECT 1 FROM pending_checks") == []  # all three decided


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
                held = (await world.events()).get(cid(enc))
                if held is not None:
                    break
                await asyncio.sleep(0.05)
            assert isinstance(held, ClaimHeld)
            # decided: it left the queue, and its three attempts are kept as exchanges
            assert (
                await world.fetch("SELECT 1 FROM pending_checks WHERE claim_id <> 'ELSEWHERE'")
                == []
            )
            tries = await world.fetch("SELECT outcome FROM exchanges WHERE claim_id = $1", cid(enc))
            assert len(tries) == 3
            assert runs < 30  # woken when due, never spinning on the check held elsewhere
