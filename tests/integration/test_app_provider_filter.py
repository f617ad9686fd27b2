"""The work queues filter by rendering provider (issue 28): claims keeps the rendering
provider's NPI of each claim (from encounter.created, and from claim.coded, which a fix
can change) and publishes it on ``claim_v1`` (an added column); the gateway's queues
take ``provider=<NPI>`` as they take the payer, and show each claim's provider."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from runtime.settings import Settings
from schemas.ids import claim_id_for
from tests.builders import encounter
from tests.integration.app_world import app_env, browser, held_claim, sign_in
from tests.integration.claims_world import TENANT, claims_service, coded, settings_for
from tests.integration.gateway_env import Env
from tests.unit import factories as f

pytestmark = pytest.mark.integration

CHEN = "1987654328"
OTHER = "1234567893"


async def test_claims_keeps_the_rendering_provider_on_claim_v1(
    live_stack: Settings, request: pytest.FixtureRequest
) -> None:
    async with claims_service(live_stack, settings_for(request)) as claims:
        enc = encounter(encounter_id="E-NPI-1", rendering_provider=f.rendering_provider(npi=OTHER))
        await claims.send(enc)
        claim_id = claim_id_for(TENANT, "E-NPI-1")
        view = "SELECT rendering_npi FROM claim_v1 WHERE claim_id = $1"
        assert await claims.pool.fetchval(view, claim_id) == OTHER
        # Coded (a person's fix may have named another provider): the coded claim's.
        await claims.send(coded(7, encounter_id="E-NPI-1", claim_id=claim_id))
        assert (await claims.state(claim_id))["state"] == "CODED"
        assert await claims.pool.fetchval(view, claim_id) == CHEN


@pytest.fixture(scope="module")
async def env(live_stack: Settings) -> AsyncIterator[Env]:
    async with app_env(live_stack) as e:
        yield e


async def test_a_queue_shows_one_providers_claims(env: Env) -> None:
    chen = await held_claim(env, "E-NPI-CHEN")
    other = await held_claim(env, "E-NPI-OTHER")
    for claim_id, npi in ((chen, CHEN), (other, OTHER)):
        await env.claims.execute(
            "UPDATE claims SET rendering_npi = $2 WHERE claim_id = $1", claim_id, npi
        )
    async with browser(env) as b:
        await sign_in(b, "biller@a.example")
        every = await b.get("/app/queues/holds")
        assert chen in every.text
        assert other in every.text
        assert 'id="provider"' in every.text
        one = await b.get("/app/queues/holds", params={"provider": CHEN})
        assert one.status_code == 200
        assert chen in one.text
        assert other not in one.text
        assert f"<td>{CHEN}</td>" in one.text
        assert f'value="{CHEN}"' in one.text  # the filter stays filled in
        bad = await b.get("/app/queues/holds", params={"provider": "12345"})
        assert bad.status_code == 422
        assert "A provider is named by their NPI: 10 digits." in bad.text
