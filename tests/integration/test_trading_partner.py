"""The 837P of a tenant goes out under that tenant's trading-partner identity
(services/claims/partners.py), and another tenant's under the install's settings, on
the real PostgreSQL; control numbers never repeat, a rolled-back batch included."""

from __future__ import annotations

import pytest

from runtime.settings import Settings
from schemas.events import AckKind
from services.claims import partners, timers
from services.claims import repository as repo
from services.claims.config import ClaimsSettings
from tests.integration.claims_world import (
    TENANT,
    ack,
    claims_service,
    coded,
    settings_for,
    submit,
)
from tests.integration.core_world import core_endpoint

pytestmark = pytest.mark.integration

PARTNER = (
    "isa_sender_qualifier,isa_sender_id,isa_receiver_qualifier,isa_receiver_id,"
    "gs_sender_code,gs_receiver_code,submitter_name,submitter_id,contact_name,"
    "contact_phone,contact_email,receiver_name,receiver_id\n"
    "30,123456789,ZZ,CLEARINGHSE01,PRACTICEGS,CHGS,MAPLE FAMILY MEDICINE,SUBM-778899,"
    "DANA BILLER,8025550142,billing@maple.example,ACME CLEARINGHOUSE,ACMERCV-01\n"
)


@pytest.fixture
def cfg(request: pytest.FixtureRequest) -> ClaimsSettings:
    return settings_for(request)


async def test_a_tenants_837_carries_its_identity_and_numbers_never_repeat(
    live_stack: Settings, cfg: ClaimsSettings
) -> None:
    async with claims_service(live_stack, cfg) as claims:
        async with claims.pool.acquire() as conn:
            await partners.save(conn, TENANT, partners.parse(PARTNER))
            # a batch that took its numbers and then failed (a crash rolls back the same)
            tr = conn.transaction()
            await tr.start()
            rolled = await repo.next_control_numbers(conn)
            await tr.rollback()
        await submit(claims, coded(1))
        [text] = [r["x12"] for r in await claims.pool.fetch("SELECT x12 FROM interchanges")]
        icn = int(text.split("*")[13])
    segs = [s.split("*") for s in text.split("~") if s]
    assert (segs[0][5], segs[0][6].strip(), segs[0][8].strip()) == (
        "30",
        "123456789",
        "CLEARINGHSE01",
    )
    assert (segs[1][2], segs[1][3]) == ("PRACTICEGS", "CHGS")
    assert ["PER", "IC", "DANA BILLER", "TE", "8025550142", "EM", "billing@maple.example"] in segs
    assert ["NM1", "40", "2", "ACME CLEARINGHOUSE", "", "", "", "", "46", "ACMERCV-01"] in segs
    assert icn > rolled[0]  # the rolled-back batch's number is never handed out again


async def test_a_tenant_without_an_identity_is_sent_under_the_install_settings(
    live_stack: Settings, cfg: ClaimsSettings
) -> None:
    async with claims_service(live_stack, cfg) as claims:
        await submit(claims, coded(2))
        [text] = [r["x12"] for r in await claims.pool.fetch("SELECT x12 FROM interchanges")]
    isa = text.split("~")[0].split("*")
    assert (isa[6].strip(), isa[8].strip()) == (
        live_stack.x12_submitter_id,
        live_stack.x12_receiver_id,
    )


async def test_a_tenants_276_carries_its_identity_too(
    live_stack: Settings, cfg: ClaimsSettings
) -> None:
    asked: list[str] = []

    async def clearinghouse(payload_type: str, x12: str) -> str:
        asked.append(x12)
        return "not a 277"  # what comes back does not matter here

    async with (
        core_endpoint(live_stack, clearinghouse) as ep,
        claims_service(ep.settings, cfg) as claims,
    ):
        async with claims.pool.acquire() as conn:
            await partners.save(conn, TENANT, partners.parse(PARTNER))
        claim = coded(3)
        await submit(claims, claim)
        await claims.send(ack(claim, AckKind.ack_277ca, True))
        await claims.due_now("remit")
        core = ep.client("claims")
        assert await timers.status_inquiries(claims.svc, cfg=cfg, core=core) == 1
        await core.close()
    [text] = asked
    segs = [s.split("*") for s in text.split("~") if s]
    assert (segs[0][5], segs[0][6].strip(), segs[0][8].strip()) == (
        "30",
        "123456789",
        "CLEARINGHSE01",
    )
    assert (segs[1][2], segs[1][3]) == ("PRACTICEGS", "CHGS")
    assert ["NM1", "41", "2", "MAPLE FAMILY MEDICINE", "", "", "", "", "46", "SUBM-778899"] in segs
