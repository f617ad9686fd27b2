"""Coordination of benefits in the claims service on the real PostgreSQL: after
Medicare pays, the claim goes to the Medigap plan as a secondary 837P carrying
Medicare's answer (valid to pyx12, 2430 per line); a claim Medicare crossed over is
not sent again; a redelivered 835 sends nothing twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runtime.settings import Settings
from schemas.common import Adjustment
from schemas.events import (
    AckKind,
    AdjudicatedLine,
    AdjudicationStatus,
    ClaimAdjudicated,
    ClaimCoded,
)
from schemas.ids import claim_id_for
from services.claims.config import ClaimsSettings
from tests.builders import encounter
from tests.integration.claims_world import TENANT, Claims, ack, claims_service, settings_for
from tests.unit import factories as f
from tests.unit.test_x12_837 import assert_pyx12_ok

pytestmark = pytest.mark.integration

DOS = dt.date(2025, 3, 14)
MEDICARE = f.coverage(payer_id="MCR01", payer_name="MEDICARE PART B SIM", member_id="1EG4TE5MK73")
MEDIGAP = f.coverage(
    payer_id="MGP01", payer_name="MEDIGAP PLAN F SIM", member_id="MG1234567", priority=2
)


@pytest.fixture
def cfg(request: pytest.FixtureRequest) -> ClaimsSettings:
    return settings_for(request)


@pytest.fixture
async def claims(live_stack: Settings, cfg: ClaimsSettings) -> AsyncIterator[Claims]:
    async with claims_service(live_stack, cfg, http_port=6197) as service:
        yield service


async def medicare_claim(claims: Claims, n: int, *, acknowledged: bool = True) -> ClaimCoded:
    """A Medicare + Medigap patient's visit, coded and sent to Medicare."""
    enc_id = f"E-COB-{n}"
    claim_id = claim_id_for(TENANT, enc_id)
    await claims.send(
        encounter(encounter_id=enc_id, coverages=[MEDICARE, MEDIGAP], date_of_service=DOS)
    )
    claim = f.claim(
        n,
        claim_id=claim_id,
        encounter_id=enc_id,
        patient_control_number=f"PCNCOB{n}",
        payer_id="MCR01",
        coverage=MEDICARE,
        date_of_service=DOS,
        lines=[f.line(1, procedure_code="99214", charge_cents=18000, service_date=DOS)],
    )
    await claims.send(claim)
    await claims.send_batches()
    if acknowledged:
        await claims.send(ack(claim, AckKind.ack_277ca, True))
    return claim


def answer(
    claim: ClaimCoded, payer: str, *, paid: int, pr: int, crossover: bool = False
) -> ClaimAdjudicated:
    """An 835 claim for the one 99214 line: charge = paid + CO-45 + PR coinsurance."""
    co = claim.total_charge_cents - paid - pr
    cas = [Adjustment(group="CO", reason="45", amount_cents=co)]
    if pr:
        cas.append(Adjustment(group="PR", reason="2", amount_cents=pr))
    return ClaimAdjudicated(
        claim_id=claim.patient_control_number,
        patient_control_number=claim.patient_control_number,
        payer_id=payer,
        payer_claim_number=f"{payer}-0042",
        trace_number=f"TRN-{payer}",
        payment_date=dt.date(2025, 3, 28),
        status=AdjudicationStatus.paid,
        claim_status_code="1" if payer == "MCR01" else "2",
        charge_cents=claim.total_charge_cents,
        paid_cents=paid,
        patient_responsibility_cents=pr,
        adjustments=cas,
        lines=[
            AdjudicatedLine(
                line_number=1,
                procedure_code="99214",
                charge_cents=18000,
                paid_cents=paid,
                adjustments=cas,
            )
        ],
        crossed_over=crossover,
        crossover_payer="MEDIGAP PLAN F SIM" if crossover else None,
    )


async def test_an_encounter_read_after_its_claim_was_coded_still_names_the_next_payer(
    claims: Claims,
) -> None:
    """claims reads encounter.created and claim.coded from different topics: when the
    encounter comes last (it is then late), its coverages are still kept, so Medicare's
    answer still sends the claim on to Medigap (before, the patient was never billed to
    the secondary and the claim stayed PAID)."""
    enc_id = "E-COB-LATE"
    claim = f.claim(
        9,
        claim_id=claim_id_for(TENANT, enc_id),
        encounter_id=enc_id,
        patient_control_number="PCNCOB9",
        payer_id="MCR01",
        coverage=MEDICARE,
        date_of_service=DOS,
        lines=[f.line(1, procedure_code="99214", charge_cents=18000, service_date=DOS)],
    )
    await claims.send(claim)
    await claims.send(
        encounter(encounter_id=enc_id, coverages=[MEDICARE, MEDIGAP], date_of_service=DOS)
    )
    await claims.send_batches()
    await claims.send(ack(claim, AckKind.ack_277ca, True))
    primary = answer(claim, "MCR01", paid=10400, pr=2600)
    await claims.svc.process(primary.TOPIC, [claims.record(primary)])
    await claims.send_batches()
    assert [s.payer_id for s in await claims.submitted()] == ["MCR01", "MGP01"]
    row = await claims.state(claim.claim_id)
    assert (row["state"], row["payer_id"], row["cob_level"]) == ("SUBMITTED", "MGP01", 2)


async def test_after_medicare_pays_the_claim_goes_to_medigap_with_medicares_answer(
    claims: Claims, tmp_path: Path
) -> None:
    claim = await medicare_claim(claims, 1)
    first = await claims.submitted()
    assert [s.payer_id for s in first] == ["MCR01"]
    primary = answer(claim, "MCR01", paid=10400, pr=2600)
    record = claims.record(primary)
    await claims.svc.process(primary.TOPIC, [record])
    await claims.send_batches()
    sent = await claims.submitted()
    assert [s.payer_id for s in sent] == ["MCR01", "MGP01"]
    secondary = sent[1]
    assert secondary.patient_control_number == claim.patient_control_number
    assert secondary.frequency_code == "1"
    text = secondary.x12
    assert "SBR*S*18*" in text
    assert "NM1*PR*2*MEDIGAP PLAN F SIM*****PI*MGP01~" in text
    assert "AMT*D*104~" in text
    assert "SVD*MCR01*104*HC:99214**1~" in text
    assert "CAS*PR*2*26~" in text
    assert "DTP*573*D8*20250328~" in text
    assert_pyx12_ok(text, tmp_path)
    row = await claims.state(claim.claim_id)
    assert (row["state"], row["payer_id"], row["cob_level"]) == ("SUBMITTED", "MGP01", 2)

    # the same 835 delivered again: applied once, nothing sent twice
    await claims.svc.process(primary.TOPIC, [record])
    await claims.send_batches()
    assert len(await claims.submitted()) == 2

    # Medigap pays the coinsurance: nothing left, the claim closes
    await claims.send(answer(claim, "MGP01", paid=2600, pr=0))
    row = await claims.state(claim.claim_id)
    assert (row["state"], row["paid_cents"], row["patient_responsibility_cents"]) == (
        "CLOSED",
        2600,
        0,
    )


async def test_a_claim_medicare_crossed_over_is_not_sent_to_medigap(claims: Claims) -> None:
    claim = await medicare_claim(claims, 2)
    await claims.send(answer(claim, "MCR01", paid=10400, pr=2600, crossover=True))
    await claims.send_batches()
    assert [s.payer_id for s in await claims.submitted()] == ["MCR01"]
    row = await claims.state(claim.claim_id)
    assert (row["state"], row["payer_id"]) == ("ACCEPTED", "MGP01")
    steps = [(t["from_state"], t["to_state"]) for t in await claims.timeline(claim.claim_id)]
    assert ("PAID", "ACCEPTED") in steps
    # Medigap's own 835 arrives for the crossed-over claim and settles it
    await claims.send(answer(claim, "MGP01", paid=2600, pr=0))
    assert (await claims.state(claim.claim_id))["state"] == "CLOSED"


async def test_medigaps_835_before_medicares_waits_and_the_claims_money_is_medigaps(
    claims: Claims,
) -> None:
    """After a restart the crossover payer's 835 can come first: taken as the answer then,
    Medicare's read later would leave the claim saying the patient owes its coinsurance."""
    claim = await medicare_claim(claims, 4)
    await claims.send(answer(claim, "MGP01", paid=2600, pr=0))
    row = await claims.state(claim.claim_id)
    assert (row["state"], row["payer_id"]) == ("ACCEPTED", "MCR01")  # waiting for Medicare
    await claims.send(answer(claim, "MCR01", paid=10400, pr=2600, crossover=True))
    row = await claims.state(claim.claim_id)
    assert (row["state"], row["paid_cents"], row["patient_responsibility_cents"]) == (
        "CLOSED",
        2600,
        0,
    )
    steps = [(t["from_state"], t["to_state"]) for t in await claims.timeline(claim.claim_id)]
    assert ("PAID", "ACCEPTED") in steps  # crossed over, then Medigap's answer applied
    assert [s.payer_id for s in await claims.submitted()] == ["MCR01"]


async def test_medicares_277ca_read_after_its_835_sent_the_claim_on_is_late(
    claims: Claims,
) -> None:
    claim = await medicare_claim(claims, 5, acknowledged=False)
    await claims.send(answer(claim, "MCR01", paid=10400, pr=2600))
    assert (await claims.state(claim.claim_id))["state"] == "CODED"  # for Medigap
    await claims.send(ack(claim, AckKind.ack_277ca, True))
    timeline = await claims.timeline(claim.claim_id)
    assert [t["kind"] for t in timeline][-1] == "late"
    assert "anomaly" not in [t["kind"] for t in timeline]
    assert (await claims.state(claim.claim_id))["state"] == "CODED"
    await claims.send_batches()
    assert [s.payer_id for s in await claims.submitted()] == ["MCR01", "MGP01"]


async def test_a_patient_with_one_coverage_is_billed_not_sent_on(claims: Claims) -> None:
    enc_id = "E-COB-3"
    claim_id = claim_id_for(TENANT, enc_id)
    await claims.send(encounter(encounter_id=enc_id, coverages=[MEDICARE], date_of_service=DOS))
    claim = f.claim(3, claim_id=claim_id, encounter_id=enc_id, patient_control_number="PCNCOB3",
                    payer_id="MCR01", coverage=MEDICARE, date_of_service=DOS,
                    lines=[f.line(1, procedure_code="99214", charge_cents=18000)])  # fmt: skip
    await claims.send(claim)
    await claims.send_batches()
    await claims.send(answer(claim, "MCR01", paid=10400, pr=2600))
    await claims.send_batches()
    assert [s.payer_id for s in await claims.submitted()] == ["MCR01"]
    assert (await claims.state(claim_id))["state"] == "PAID"
