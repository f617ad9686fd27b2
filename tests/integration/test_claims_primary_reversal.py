"""The primary payer reverses and reprocesses a claim after the secondary has paid it
(claims service, real PostgreSQL): the claim takes the primary's new answer and is not
sent to the secondary again (its payment stands; statements recomputes the patient's
share: test_statements_primary_reversal.py), however often the 835 is delivered."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from runtime.settings import Settings
from schemas.common import Adjustment
from schemas.events import AdjudicatedLine, AdjudicationStatus, ClaimAdjudicated
from services.claims.config import ClaimsSettings
from tests.integration.claims_world import Claims, claims_service, settings_for
from tests.integration.test_claims_cob import answer, medicare_claim

pytestmark = pytest.mark.integration


@pytest.fixture
def cfg(request: pytest.FixtureRequest) -> ClaimsSettings:
    return settings_for(request)


@pytest.fixture
async def claims(live_stack: Settings, cfg: ClaimsSettings) -> AsyncIterator[Claims]:
    async with claims_service(live_stack, cfg, http_port=6198) as service:
        yield service


def reversal(of: ClaimAdjudicated) -> ClaimAdjudicated:
    """The payer's CLP02 22 of an earlier answer: every amount negated."""

    def neg(cas: list[Adjustment]) -> list[Adjustment]:
        return [a.model_copy(update={"amount_cents": -a.amount_cents}) for a in cas]

    lines = [
        AdjudicatedLine(
            line_number=ln.line_number,
            procedure_code=ln.procedure_code,
            charge_cents=-ln.charge_cents,
            paid_cents=-ln.paid_cents,
            adjustments=neg(ln.adjustments),
        )
        for ln in of.lines
    ]
    return of.model_copy(
        update={
            "trace_number": of.trace_number + "-R",
            "status": AdjudicationStatus.reversed,
            "claim_status_code": "22",
            "charge_cents": -of.charge_cents,
            "paid_cents": -of.paid_cents,
            "patient_responsibility_cents": -of.patient_responsibility_cents,
            "adjustments": neg(of.adjustments),
            "lines": lines,
        }
    )


async def test_the_primarys_reprocessing_after_the_secondary_paid_is_not_sent_on_again(
    claims: Claims,
) -> None:
    claim = await medicare_claim(claims, 31)
    primary = answer(claim, "MCR01", paid=10400, pr=2600)
    await claims.send(primary)
    await claims.send_batches()
    await claims.send(answer(claim, "MGP01", paid=2600, pr=0))
    assert [s.payer_id for s in await claims.submitted()] == ["MCR01", "MGP01"]
    assert (await claims.state(claim.claim_id))["state"] == "CLOSED"

    corrected = answer(claim, "MCR01", paid=9400, pr=3600).model_copy(
        update={"trace_number": "TRN-MCR01-2", "payer_claim_number": "MCR01-0043"}
    )
    records = [claims.record(reversal(primary)), claims.record(corrected)]
    await claims.svc.process(primary.TOPIC, records)
    await claims.svc.process(primary.TOPIC, records)  # delivered again
    await claims.send_batches()
    # Medigap answered already: nothing goes to it again
    assert [s.payer_id for s in await claims.submitted()] == ["MCR01", "MGP01"]
    row = await claims.state(claim.claim_id)
    assert (row["payer_claim_number"], row["paid_cents"], row["patient_responsibility_cents"]) == (
        "MCR01-0043",
        9400,
        3600,
    )
    assert row["state"] in ("PAID", "PARTIALLY_PAID")
