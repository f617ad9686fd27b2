"""Secondary 837P (coordination of benefits): what the secondary payer must be told of
the primary's answer, valid to pyx12, balanced as the X222A1 guide states, and a claim
that does not balance held with a reason rather than sent."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from schemas.common import Adjustment
from schemas.events import AdjudicatedLine, AdjudicationStatus, ClaimAdjudicated
from services.claims import cob
from services.claims.x12_837 import Outgoing, Unbuildable
from services.remittance.domain.adjudication import adjudicated
from services.remittance.x12_835.reader import parse_835
from services.simulator import secondary as secondary_rules
from services.simulator.adjudicate import adjudicate
from services.simulator.model import Accumulators
from services.simulator.payers import payer
from services.simulator.x12_835 import write_835
from services.simulator.x12_837 import read_837
from tests.unit import factories as f
from tests.unit.test_simulator_x12 import assert_valid, env_back
from tests.unit.test_x12_837 import AT, assert_pyx12_ok, render, segs, x12valid

pytestmark = pytest.mark.unit

MEDICARE = f.coverage(
    payer_id="MCR01",
    payer_name="MEDICARE PART B SIM",
    member_id="1EG4TE5MK73",
    filing_indicator="MB",
)
MEDIGAP = f.coverage(
    payer_id="MGP01", payer_name="MEDIGAP PLAN F SIM", member_id="MG12345678", priority=2
)
PAID_ON = dt.date(2025, 3, 28)


def two_line_claim() -> object:
    return f.claim(
        1,
        coverage=MEDIGAP,
        lines=[
            f.line(1, procedure_code="99214", charge_cents=18000),
            f.line(2, procedure_code="20610", charge_cents=16000),
        ],
    )


def medicare_answer() -> ClaimAdjudicated:
    """99214 allowed 130.00, paid 104.00, 26.00 coinsurance; 20610 denied CO-197."""
    return ClaimAdjudicated(
        claim_id="clm-0001",
        patient_control_number="PCN000001",
        payer_id="MCR01",
        payer_claim_number="MCR25000000000042",
        trace_number="T1",
        payment_date=PAID_ON,
        status=AdjudicationStatus.partially_paid,
        claim_status_code="1",
        charge_cents=34000,
        paid_cents=10400,
        patient_responsibility_cents=2600,
        adjustments=[
            Adjustment(group="CO", reason="45", amount_cents=5000),
            Adjustment(group="PR", reason="2", amount_cents=2600),
            Adjustment(group="CO", reason="197", amount_cents=16000),
        ],
        lines=[
            AdjudicatedLine(
                line_number=1,
                procedure_code="99214",
                charge_cents=18000,
                paid_cents=10400,
                adjustments=[
                    Adjustment(group="CO", reason="45", amount_cents=5000),
                    Adjustment(group="PR", reason="2", amount_cents=2600),
                ],
            ),
            AdjudicatedLine(
                line_number=2,
                procedure_code="20610",
                charge_cents=16000,
                paid_cents=0,
                adjustments=[Adjustment(group="CO", reason="197", amount_cents=16000)],
            ),
        ],
    )


def secondary(answer: ClaimAdjudicated | None = None) -> Outgoing:
    prior = cob.prior_payer(answer or medicare_answer(), MEDICARE, 1)
    return Outgoing(two_line_claim(), cob=cob.Cob(level=2, coverage=MEDIGAP, prior=[prior]))  # type: ignore[arg-type]


def test_secondary_claim_carries_the_primary_answer_line_by_line_and_passes_pyx12(
    tmp_path: Path,
) -> None:
    text = render(secondary())
    assert_pyx12_ok(text, tmp_path)
    s = segs(text)
    ids = [x[0] for x in s]
    # 2000B names the secondary payer as the one billed now
    assert ["SBR", "S", "18", "GRP001", "", "", "", "", "", "CI"] in s
    assert ["NM1", "PR", "2", "MEDIGAP PLAN F SIM", "", "", "", "", "PI", "MGP01"] in s
    # 2320: Medicare, primary, paid 104.00, patient still owes 26.00
    assert ["SBR", "P", "18", "GRP001", "", "", "", "", "", "MB"] in s
    assert ["AMT", "D", "104"] in s
    assert ["AMT", "EAF", "26"] in s
    assert ["OI", "", "", "Y", "P", "", "Y"] in s
    assert ["REF", "F8", "MCR25000000000042"] in s
    # 2320/2330 come before the first service line
    assert ids.index("OI") < ids.index("LX")
    # 2430 for each line: what Medicare paid on it, its CAS, the date it decided
    svd = [x for x in s if x[0] == "SVD"]
    assert svd == [
        ["SVD", "MCR01", "104", "HC:99214", "", "1"],
        ["SVD", "MCR01", "0", "HC:20610", "", "1"],
    ]
    at = ids.index("SVD")
    assert s[at + 1 : at + 3] == [["CAS", "CO", "45", "50"], ["CAS", "PR", "2", "26"]]
    assert ["CAS", "CO", "197", "160"] in s
    assert ids.count("DTP") >= 4
    assert ["DTP", "573", "D8", "20250328"] in s


def test_the_primary_claim_is_unchanged_without_coordination(tmp_path: Path) -> None:
    text = render(Outgoing(two_line_claim()))
    assert "SVD*" not in text
    assert "AMT*D*" not in text
    assert_pyx12_ok(text, tmp_path)


def test_a_bundled_answer_is_reported_at_the_claim_level(tmp_path: Path) -> None:
    """The payer answered one line for our two: no 2430, every CAS in 2320, DTP*573."""
    ans = medicare_answer()
    bundled = ans.model_copy(update={"lines": ans.lines[:1]})
    text = render(secondary(bundled))
    assert "SVD*" not in text
    s = segs(text)
    assert ["DTP", "573", "D8", "20250328"] in s
    assert_pyx12_ok(text, tmp_path)


def test_an_answer_that_does_not_balance_is_not_sent() -> None:
    ans = medicare_answer().model_copy(update={"paid_cents": 9999})
    with pytest.raises(Unbuildable, match=r"MCR01 AMT\*D.*9999"):
        render(secondary(ans))


def test_pyx12_fails_a_2430_without_its_date(tmp_path: Path) -> None:
    """The validation can fail on the COB loops: DTP*573 is required in 2430."""
    text = render(secondary()).replace("DTP*573*D8*20250328~", "", 1)
    out, path = x12valid(text, tmp_path)
    assert f"{path}: OK" not in out


def test_the_primary_claim_names_the_secondary_so_medicare_can_cross_it_over(
    tmp_path: Path,
) -> None:
    """2320/2330 of a payer that has not answered: who it is, no amounts."""
    primary = f.claim(1, coverage=MEDICARE)
    text = render(Outgoing(primary, cob=cob.Cob(level=1, coverage=MEDICARE, later=[MEDIGAP])))
    assert_pyx12_ok(text, tmp_path)
    s = segs(text)
    assert ["SBR", "S", "18", "GRP001", "", "", "", "", "", "CI"] in s
    assert ["NM1", "PR", "2", "MEDIGAP PLAN F SIM", "", "", "", "", "PI", "MGP01"] in s
    assert not [x for x in s if x[0] in ("AMT", "SVD")]
    # the simulated Medicare reads it, pays, and crosses the claim over to Medigap
    claim = next(read_837(text).claims())
    assert claim.other_payers == ((2, "MGP01", "MG12345678"),)
    result = adjudicate(claim, Accumulators(2025, deductible_met_cents=25700), AT.date())
    onward = secondary_rules.crossover(claim, result, payer("MCR01"))
    assert onward is not None
    assert (onward.payer_id, onward.member_id, onward.priority) == ("MGP01", "MG12345678", 2)
    later = adjudicate(onward, Accumulators(2025), AT.date())
    assert later.paid_cents == result.patient_responsibility_cents > 0
    assert later.patient_responsibility_cents == 0


def test_the_simulated_medigap_reads_2430_and_pays_the_coinsurance() -> None:
    claim = next(read_837(render(secondary())).claims())
    assert claim.priority == 2
    assert [ln.prior_patient_cents for ln in claim.lines] == [2600, 0]
    result = adjudicate(claim, Accumulators(2025), AT.date())
    assert (result.paid_cents, result.patient_responsibility_cents) == (2600, 0)


def test_medicares_835_for_a_crossed_over_claim_tells_the_pipeline_to_wait(
    tmp_path: Path,
) -> None:
    """The simulated Medicare's 835 (CLP02 19, NM1*TT, MA18) as remittance reads it."""
    claim = next(read_837(render(Outgoing(f.claim(1, coverage=MEDICARE)))).claims())
    claim = replace(claim, other_payers=((2, "MGP01", "MG12345678"),))
    result = adjudicate(claim, Accumulators(2025, deductible_met_cents=25700), AT.date())
    text = write_835(
        [secondary_rules.forwarded(result, payer("MGP01"))],
        plan=payer("MCR01"),
        envelope=env_back(7),
        payment_date=AT.date(),
        trace_number="TRACE0001",
    )
    assert_valid(tmp_path, text, "crossover.835")
    (clp,) = parse_835(text).claims
    event = adjudicated(clp, "MCR01", "clm-0001")
    assert event.crossed_over
    assert event.crossover_payer == "MEDIGAP PLAN F SIM"
    assert event.claim_status_code == "19"
    assert event.status is AdjudicationStatus.paid
    # the same answer without the crossover: the pipeline sends the secondary claim
    plain = write_835(
        [result],
        plan=payer("MCR01"),
        envelope=env_back(8),
        payment_date=AT.date(),
        trace_number="TRACE0002",
    )
    assert not adjudicated(parse_835(plain).claims[0], "MCR01").crossed_over


PPO = f.coverage(payer_id="PPO01", payer_name="BLUE MEADOW PPO", member_id="BMP1", priority=1)
HDHP = f.coverage(payer_id="HDHP1", payer_name="SUMMIT HDHP", member_id="SHD1", priority=2)
MCD = f.coverage(
    payer_id="MCD01",
    payer_name="STATE MEDICAID SIM",
    member_id="MC1",
    priority=3,
    filing_indicator="MC",
)


def one_line_answer(
    payer_id: str, paid: int, left: int, prior_left: int | None
) -> ClaimAdjudicated:
    """A payer's answer on one 180.00 line: a primary's CO-45, a later payer's OA-23."""
    charge = 18000
    cas = [
        Adjustment(group="CO", reason="45", amount_cents=charge - paid - left)
        if prior_left is None
        else Adjustment(group="OA", reason="23", amount_cents=charge - prior_left),
        Adjustment(group="PR", reason="2", amount_cents=left),
    ]
    return ClaimAdjudicated(
        claim_id="clm-0001", patient_control_number="PCN000001", payer_id=payer_id,
        payer_claim_number=f"{payer_id}-1", trace_number="T", payment_date=PAID_ON,
        status=AdjudicationStatus.paid, claim_status_code="1" if prior_left is None else "2",
        charge_cents=charge, paid_cents=paid, patient_responsibility_cents=left, adjustments=cas,
        lines=[AdjudicatedLine(line_number=1, procedure_code="99214", charge_cents=charge,
                               paid_cents=paid, adjustments=cas)],
    )  # fmt: skip


def test_a_tertiary_claim_carries_both_earlier_payers(tmp_path: Path) -> None:
    covs = [PPO, HDHP, MCD]
    first = one_line_answer("PPO01", 9000, 5000, None)
    nxt = cob.onward(first, covs, f.DOS)
    assert nxt is not None
    assert (nxt.how, nxt.level, nxt.coverage.payer_id) == (cob.Next.SEND, 2, "HDHP1")
    second = one_line_answer("HDHP1", 3000, 2000, 5000)
    then = cob.onward(second, covs, f.DOS)
    assert then is not None
    assert (then.level, then.coverage.payer_id) == (3, "MCD01")
    assert cob.onward(one_line_answer("MCD01", 2000, 0, 2000), covs, f.DOS) is None
    prior = [cob.prior_payer(first, PPO, 1), cob.prior_payer(second, HDHP, 2)]
    claim = f.claim(1, coverage=MCD, lines=[f.line(1, procedure_code="99214", charge_cents=18000)])
    text = render(Outgoing(claim, cob=cob.Cob(level=3, coverage=MCD, prior=prior)))
    assert_pyx12_ok(text, tmp_path)
    s = segs(text)
    assert ["SBR", "T", "18", "GRP001", "", "", "", "", "", "MC"] in s
    assert [x[:3] for x in s if x[0] == "SVD"] == [["SVD", "PPO01", "90"], ["SVD", "HDHP1", "30"]]
    # the simulated Medicaid reads what the last payer left: 20.00
    read = next(read_837(text).claims())
    assert (read.priority, read.lines[0].prior_patient_cents) == (3, 2000)
    assert read.lines[0].prior_paid_cents == 12000


def test_a_denied_or_fully_paid_claim_goes_to_no_later_payer() -> None:
    covs = [MEDICARE, MEDIGAP]
    paid_in_full = one_line_answer("MCR01", 13000, 0, None)
    assert cob.onward(paid_in_full, covs, f.DOS) is None
    denied = paid_in_full.model_copy(update={"status": AdjudicationStatus.denied})
    assert cob.onward(denied, covs, f.DOS) is None
    crossed = one_line_answer("MCR01", 10400, 2600, None).model_copy(update={"crossed_over": True})
    nxt = cob.onward(crossed, covs, f.DOS)
    assert nxt is not None
    assert nxt.how is cob.Next.CROSSOVER
