"""Eligibility when the clearinghouse's CAQH CORE endpoint answers with an error code:
a sender the clearinghouse has no agreement with holds the claim naming the code (never
dropped, the exchange kept), and a busy endpoint is asked again later until the check
is answered (tests/integration/eligibility_world.py sets the world up)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from runtime import core_envelope as ce
from runtime.settings import Settings
from schemas.events import ClaimHeld, EligibilityChecked
from services.eligibility.client import CoreTransport
from services.eligibility.config import EligibilitySettings
from services.eligibility.timers import Verifier
from services.simulator import core_web
from tests.integration.core_world import core_endpoint
from tests.integration.eligibility_world import TENANT, World, cid, enc_for, open_world, ppo

pytestmark = pytest.mark.integration


@pytest.fixture
async def world(live_stack: Settings) -> AsyncIterator[World]:
    async with open_world(live_stack) as w:
        yield w


def sim_answer(world: World, s: Settings) -> core_web.Answerer:
    return core_web.payer_answerer(lambda: world.sim.pool, s, grace_s=0)


async def test_a_sender_without_an_agreement_holds_the_claim_naming_the_code(
    world: World, live_stack: Settings
) -> None:
    others_only = core_web.CoreServer(
        receiver_id=live_stack.x12_receiver_id,
        password=live_stack.clearinghouse_token.get_secret_value(),
        senders=frozenset({"ANOTHERPRACTICE"}),
    )
    enc = enc_for(61, [ppo("BMP000000061")])
    await world.roster(enc)
    await world.visit(enc)
    async with core_endpoint(live_stack, sim_answer(world, live_stack), server=others_only) as ep:
        client = ep.client("eligibility")
        world.verifier = Verifier(EligibilitySettings(), live_stack, CoreTransport(client))
        await world.settle()
        await client.close()
    held = (await world.events())[cid(enc)]
    assert isinstance(held, ClaimHeld)
    [reason] = held.reasons
    assert reason.code == "ELIGIBILITY-270-REFUSED"
    assert "UnAuthorized: Sender not authorized" in reason.message
    [kept] = await world.fetch("SELECT outcome, problem, request_x12 FROM exchanges")
    assert kept["outcome"] == "rejected"
    assert kept["request_x12"].startswith("ISA*")  # the 270 we sent, kept to send again
    assert (
        client.metrics.requests.labels(
            "eligibility", "X12_270_Request_005010X279A1", "unauthorized"
        )._value.get()
        == 1
    )


async def test_a_busy_endpoint_is_asked_again_until_the_check_is_answered(
    world: World, live_stack: Settings
) -> None:
    busy_for = 2  # the first two requests (the first check's two attempts) are turned away
    server = core_web.core_server(live_stack)
    answer = sim_answer(world, live_stack)

    async def sometimes_busy(request: web.Request) -> web.Response:
        nonlocal busy_for
        body = await request.read()
        content_type = request.headers["Content-Type"]
        if busy_for > 0:
            busy_for -= 1
            fields, _, _ = ce.decode_soap(body)
            env = ce.error(ce.Envelope.from_fields(fields), "Busy", "try again shortly",
                           at=dt.datetime.now(dt.UTC), receiver_id=server.receiver_id)  # fmt: skip
            out = ce.encode_soap(env, username=None, password=None, response=True)
            return web.Response(body=out, headers={"Content-Type": ce.SOAP_CONTENT_TYPE})
        code, out, kind = await core_web.handle(server, answer, content_type, body)
        return web.Response(status=code, body=out, headers={"Content-Type": kind})

    app = web.Application()
    app.router.add_post(core_web.PATH, sometimes_busy)
    enc = enc_for(62, [ppo("BMP000000062")])
    await world.roster(enc)
    await world.visit(enc)
    async with core_endpoint(live_stack, answer, app=app) as ep:
        client = ep.client("eligibility", max_attempts=2)
        cfg = EligibilitySettings(backoff_s=0, max_attempts=5)
        world.verifier = Verifier(cfg, live_stack, CoreTransport(client))
        await world.verifier.verify_due(world.elig)  # two busy answers: retry later
        assert cid(enc) not in await world.events()
        await world.settle()
        await client.close()
    checked = (await world.events())[cid(enc)]
    assert isinstance(checked, EligibilityChecked)
    tries = await world.fetch("SELECT outcome, problem FROM exchanges ORDER BY id")
    assert [t["outcome"] for t in tries] == ["retry", "answered"]
    assert "busy (Busy: try again shortly)" in tries[0]["problem"]


async def test_a_payer_without_real_time_270_is_decided_from_the_registry_unasked(
    world: World, live_stack: Settings
) -> None:
    """The payer directory (claims' payer_v1) says PPO01 answers no real-time 270: the
    check is settled from the coverage on file, and the endpoint never hears of it."""
    asked: list[str] = []

    async def payer(payload_type: str, x12: str) -> str:
        asked.append(x12)
        return ""

    directory = f"it_dir_{uuid.uuid4().hex[:8]}"
    assert world.elig.pool is not None
    await world.elig.pool.execute(
        f"CREATE SCHEMA {directory}; CREATE TABLE {directory}.payer_v1"
        " (tenant text, payer_id text, realtime_270 boolean);"
        f" INSERT INTO {directory}.payer_v1 VALUES ('{TENANT}', 'PPO01', false),"
        f" ('{TENANT}', 'MCR01', true)"
    )
    enc = enc_for(63, [ppo("BMP000000063")])
    try:
        await world.visit(enc)
        async with core_endpoint(live_stack, payer) as ep:
            client = ep.client("eligibility")
            cfg = EligibilitySettings(claims_schema=directory)
            world.verifier = Verifier(cfg, live_stack, CoreTransport(client))
            await world.settle()
            await client.close()
    finally:
        await world.elig.pool.execute(f"DROP SCHEMA {directory} CASCADE")
    checked = (await world.events())[cid(enc)]
    assert isinstance(checked, EligibilityChecked)
    assert checked.active is True
    assert checked.payer_id == "PPO01"
    assert asked == []
    assert await world.fetch("SELECT * FROM exchanges") == []
