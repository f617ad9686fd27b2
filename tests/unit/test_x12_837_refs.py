"""837P prior-authorization (REF*G1) and referral (REF*9F) numbers: in 2300 for the
claim and in 2400 for a line with its own, where 005010X222A1 puts them; pyx12 accepts
the file, and refuses the same numbers out of place."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from schemas.events import ClaimCoded
from services.claims import cob
from services.claims.x12_837 import ControlNumbers, Outgoing, Party, Unbuildable, render_837p
from tests.pyx12check import problems
from tests.unit import factories as f
from tests.unit.test_x12_837_cob import MEDICARE, MEDIGAP, medicare_answer

pytestmark = pytest.mark.unit


def render(*claims: Outgoing) -> str:
    return render_837p(
        claims,
        control=ControlNumbers(interchange=77, group=3, transaction_start=1),
        submitter=Party("Example Family Practice", "SUBMITTER01"),
        receiver=Party("Acme Clearinghouse", "ACMECH"),
        contact_phone="(555) 555-1212",
        at=dt.datetime(2025, 3, 15, 9, 30, tzinfo=dt.UTC),
    )


def segs(text: str) -> list[list[str]]:
    return [s.split("*") for s in text.split("~") if s.strip()]


def authorized() -> ClaimCoded:
    """MRI with the claim's authorization and referral; its second line (a contrast
    study) authorized under a number of its own."""
    return f.claim(
        1,
        lines=[
            f.line(1, procedure_code="72148", charge_cents=90000),
            f.line(
                2,
                procedure_code="72149",
                charge_cents=95000,
                prior_authorization="PA-77 01",
                referral_number="R/2026.4",
            ),
        ],
        prior_authorization="PA2026-0001",
        referral_number="REF-20260401",
    )


def test_claim_and_line_numbers_are_written_where_the_guide_puts_them(tmp_path: Path) -> None:
    claim = authorized()
    replacement = Outgoing(claim, frequency_code="7", payer_claim_number="PAYERCLM9")
    s = segs(render(replacement))
    i = next(k for k, x in enumerate(s) if x[0] == "CLM")
    # 2300: CLM, then REF*9F, REF*G1, REF*F8 (X222A1's order), then HI
    assert s[i + 1 : i + 4] == [
        ["REF", "9F", "REF-20260401"],
        ["REF", "G1", "PA2026-0001"],
        ["REF", "F8", "PAYERCLM9"],
    ]
    assert s[i + 4][0] == "HI"
    # 2400: line 1 has no number of its own; line 2's follow its DTP*472, G1 before 9F
    lx2 = next(k for k, x in enumerate(s) if x[:2] == ["LX", "2"])
    assert [x[0] for x in s[lx2 : lx2 + 5]] == ["LX", "SV1", "DTP", "REF", "REF"]
    assert s[lx2 + 3 : lx2 + 5] == [["REF", "G1", "PA-77 01"], ["REF", "9F", "R/2026.4"]]
    lx1 = next(k for k, x in enumerate(s) if x[:2] == ["LX", "1"])
    assert [x[0] for x in s[lx1:lx2]] == ["LX", "SV1", "DTP"]
    assert problems(tmp_path / "auth.837", render(replacement)) == []


def test_pyx12_refuses_an_authorization_out_of_place(tmp_path: Path) -> None:
    """The check can fail: REF*G1 moved after HI is not where 2300 allows it."""
    text = render(Outgoing(f.claim(2, prior_authorization="PA1")))
    s = text.split("~")
    ref = next(k for k, x in enumerate(s) if x.startswith("REF*G1"))
    hi = next(k for k, x in enumerate(s) if x.startswith("HI*"))
    s.insert(hi, s.pop(ref))
    assert problems(tmp_path / "moved.837", "~".join(s)) != []


def test_a_claim_without_numbers_has_no_ref_g1_or_9f() -> None:
    s = segs(render(Outgoing(f.claim(3))))
    assert not [x for x in s if x[:2] in (["REF", "G1"], ["REF", "9F"])]


def test_a_number_holding_a_delimiter_is_unbuildable_naming_the_field() -> None:
    claim = f.claim(4).model_copy(update={"prior_authorization": "PA*1"})
    with pytest.raises(Unbuildable, match="prior_authorization") as exc:
        render(Outgoing(claim))
    assert exc.value.field == "prior_authorization"


def test_a_secondary_claim_reports_them_as_the_first_payers_in_2330b(tmp_path: Path) -> None:
    """The numbers are the primary payer's (its rules asked for them): on the claim to
    the next payer they are 2330B's Other Payer Prior Authorization and Referral Number,
    never the destination payer's 2300/2400 ones."""
    claim = f.claim(
        1,
        coverage=MEDIGAP,
        lines=[
            f.line(1, procedure_code="99214", charge_cents=18000),
            f.line(2, procedure_code="20610", charge_cents=16000, prior_authorization="L-2"),
        ],
        prior_authorization="PA-MCR-1",
        referral_number="REF-9",
    )
    prior = cob.prior_payer(medicare_answer(), MEDICARE, 1)
    text = render(Outgoing(claim, cob=cob.Cob(level=2, coverage=MEDIGAP, prior=[prior])))
    s = segs(text)
    pr = next(k for k, x in enumerate(s) if x[:2] == ["NM1", "PR"] and x[-1] == "MCR01")
    assert s[pr + 1 : pr + 4] == [
        ["REF", "G1", "PA-MCR-1"],
        ["REF", "9F", "REF-9"],
        ["REF", "F8", "MCR25000000000042"],
    ]
    refs = [x for x in s if x[:2] in (["REF", "G1"], ["REF", "9F"])]
    assert len(refs) == 2  # none in 2300 or 2400
    assert problems(tmp_path / "secondary.837", text) == []
