"""The front desk (issue 28): a person asks before a visit what the patient will owe; the
gateway sends the question, the eligibility service asks the payer simulator over CAQH
CORE (a real 270/271 on loopback TLS) and the page shows the copay, deductible left,
coinsurance and out-of-pocket left from the 271. Another tenant gets 404, a role
without the right 403, a bad field its error in words."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial

import httpx
import pytest

from runtime.service import Record
from runtime.settings import Settings
from schemas.codec import encode
from schemas.events import EncounterCreated
from schemas.events_frontdesk import BenefitCheckRequested
from services.eligibility import frontdesk
from tests.integration.app_world import browser, csrf_of, rcm_users_create, sign_in
from tests.integration.eligibility_world import World, enc_for, open_world, ppo
from tests.integration.gateway_env import Env, gateway_env, read_topic

pytestmark = pytest.mark.integration
NPI = "1234567893"


@dataclass
class Desk:
    env: Env
    world: World
    checks: frontdesk.DeskChecks
    patient: EncounterCreated

    async def answer(self) -> BenefitCheckRequested:
        """Eligibility takes what the gateway sent to Kafka and asks the payer."""
        sent = await read_topic(self.env, BenefitCheckRequested.TOPIC, 1)
        assert len(sent) == 1
        x = encode(sent[0].event, sent[0].meta)
        rec = Record(BenefitCheckRequested.TOPIC, 0, 1, x.key, x.value, x.headers)
        await self.world.elig.process(BenefitCheckRequested.TOPIC, [rec])
        assert await self.checks.ask_due(self.world.elig) == 1
        assert isinstance(sent[0].event, BenefitCheckRequested)
        return sent[0].event


@pytest.fixture
async def desk(live_stack: Settings) -> AsyncIterator[Desk]:
    async with open_world(live_stack) as w:
        cfg = w.verifier.cfg
        w.elig.on(BenefitCheckRequested, partial(frontdesk.on_benefit_check, cfg=cfg))
        patient = enc_for(1, [ppo("BMP000000001")])
        await w.roster(patient)
        assert w.sim.pool is not None
        await w.sim.pool.execute(
            "INSERT INTO accumulators(payer_id, member_id, year, deductible_met_cents,"
            " oop_met_cents) VALUES ('PPO01', 'BMP000000001', 2025, 20000, 45000)"
        )
        uid = uuid.uuid4().hex[:10]
        async with gateway_env(live_stack, uid, eligibility_schema=w.elig.schema) as env:
            for tenant, email, role in (
                ("tenant-a", "desk@a.example", "front_desk"),
                ("tenant-a", "coder@a.example", "coder"),
                ("tenant-b", "desk@b.example", "front_desk"),
            ):
                await rcm_users_create(env, "--tenant", tenant, "--email", email, "--role", role)
            yield Desk(env, w, frontdesk.DeskChecks(cfg, live_stack, w.verifier.transport), patient)


def card(d: Desk, csrf: str, check_id: str, **changes: str) -> dict[str, str]:
    p = d.patient.patient
    return {
        "csrf": csrf,
        "check_id": check_id,
        "patient_id": p.id,
        "first_name": p.first_name,
        "last_name": p.last_name,
        "birth_date": p.birth_date.isoformat(),
        "sex": p.sex.value,
        "payer_id": "PPO01",
        "member_id": "BMP000000001",
        "provider_npi": NPI,
        "provider_name": "Sunrise Family Medicine",
        "date_of_service": "2025-03-14",
        "visit_type": "problem",
        **changes,
    }


async def open_form(b: httpx.AsyncClient) -> tuple[str, str]:
    page = await b.get("/app/frontdesk")
    assert page.status_code == 200, page.text[:300]
    found = re.search(r'name="check_id" value="(desk-[0-9a-f]{16})"', page.text)
    assert found
    return csrf_of(page.text), found.group(1)


async def test_the_front_desk_sees_what_the_patient_will_owe(desk: Desk) -> None:
    async with browser(desk.env) as b:
        assert (await sign_in(b, "desk@a.example")).status_code == 303
        csrf, check_id = await open_form(b)
        r = await b.post("/app/frontdesk/checks", data=card(desk, csrf, check_id))
        assert r.status_code == 303, r.text[:500]
        url = r.headers["location"]
        assert url == f"/app/frontdesk/checks/{check_id}"
        waiting = await b.get(url)
        assert "Asking the payer" in waiting.text
        assert 'hx-trigger="every 1s"' in waiting.text

        asked = await desk.answer()
        assert (asked.patient_id, asked.member_id, asked.requested_by[:5]) == (
            "MRN0001", "BMP000000001", "user:",
        )  # fmt: skip
        result = await b.get(url + "/result")
        assert result.status_code == 200
        text = re.sub(r"<[^>]+>", " ", result.text)
        assert re.search(r"Copay for the visit\s+\$25\.00", text), text
        assert re.search(r"Deductible left this year\s+\$300\.00", text), text
        assert re.search(r"Out-of-pocket left this year\s+\$3,550\.00", text), text
        assert "hx-trigger" not in result.text  # the polling stops with the answer

    rows = await desk.env.gateway.fetch(
        "SELECT action, resource, patient_id, outcome FROM audit_log"
        " WHERE action LIKE 'app.eligibility%' ORDER BY seq"
    )
    assert [(r["action"], r["patient_id"], r["outcome"]) for r in rows][-1] == (
        "app.eligibility", "MRN0001", "ok",
    )  # fmt: skip
    assert rows[0]["action"] == "app.eligibility.ask"
    assert rows[0]["resource"] == check_id

    async with browser(desk.env) as other:
        await sign_in(other, "desk@b.example")
        assert (await other.get(url)).status_code == 404
        assert (await other.get(url + "/result")).status_code == 404
    async with browser(desk.env) as coder:
        await sign_in(coder, "coder@a.example")
        assert (await coder.get("/app/frontdesk")).status_code == 403
        assert (await coder.get(url)).status_code == 403


async def test_a_bad_card_is_refused_field_by_field_and_nothing_is_asked(desk: Desk) -> None:
    async with browser(desk.env) as b:
        await sign_in(b, "desk@a.example")
        csrf, check_id = await open_form(b)
        bad = card(desk, csrf, check_id, provider_npi="12345", birth_date="14/03/1980")
        r = await b.post("/app/frontdesk/checks", data=bad)
        assert r.status_code == 422
        assert "An NPI is 10 digits." in r.text
        assert "Give a date such as 2026-12-07." in r.text
        assert (await b.get(f"/app/frontdesk/checks/{check_id}")).status_code == 404
    assert await read_topic(desk.env, BenefitCheckRequested.TOPIC, 1, timeout=2) == []
