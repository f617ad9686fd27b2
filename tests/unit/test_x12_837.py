"""837P writer: what a billing user cares about. Valid to pyx12, readable by x12sdk,
the right hierarchy, and a clear hold reason for a claim that cannot be sent."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from x12sdk.io import X12ModelReader

from schemas.common import Relationship
from schemas.events import ClaimCoded
from services.claims.x12_837 import (
    ControlNumbers,
    Outgoing,
    Party,
    Unbuildable,
    render_837p,
)
from tests.unit import factories as f

pytestmark = pytest.mark.unit

AT = dt.datetime(2025, 3, 15, 9, 30, tzinfo=dt.UTC)
SUBMITTER = Party("Example Family Practice", "SUBMITTER01")
RECEIVER = Party("Acme Clearinghouse", "ACMECH")


def render(*claims: Outgoing, control: ControlNumbers | None = None) -> str:
    return render_837p(
        claims,
        control=control or ControlNumbers(interchange=42, group=7, transaction_start=1),
        submitter=SUBMITTER,
        receiver=RECEIVER,
        contact_phone="(555) 555-1212",
        at=AT,
    )


def segs(text: str) -> list[list[str]]:
    return [s.split("*") for s in text.split("~") if s]


def mixed_batch() -> list[Outgoing]:
    """Self and dependent patients, several claims, modifiers, a replacement claim."""
    self_claim = f.claim(
        1,
        diagnoses=["J06.9", "R05.9", "E11.9"],
        lines=[
            f.line(1, modifiers=["25"], diagnosis_pointers=[1, 2]),
            f.line(
                2,
                procedure_code="87880",
                modifiers=["QW", "59", "XU", "76"],
                units=2,
                charge_cents=3050,
                diagnosis_pointers=[2, 3, 1],
            ),
        ],
    )
    child = f.person(id="MRN0002", first_name="Sam", birth_date=dt.date(2015, 1, 1))
    spouse = f.person(id="MRN0003", first_name="Robin", birth_date=dt.date(1979, 7, 7))
    dep1 = f.claim(2, coverage=f.dependent_coverage(), patient=child)
    dep2 = f.claim(
        3,
        coverage=f.dependent_coverage(),
        patient=child,
        lines=[f.line(1, procedure_code="99214", charge_cents=18000)],
    )
    dep3 = f.claim(
        4, coverage=f.dependent_coverage(relationship=Relationship.spouse), patient=spouse
    )
    replacement = f.claim(5, rendering_provider=f.rendering_provider(npi="1234567893"))
    return [
        Outgoing(self_claim),
        Outgoing(dep1),
        Outgoing(dep2),
        Outgoing(dep3),
        Outgoing(replacement, frequency_code="7", payer_claim_number="PAYERCLM123"),
    ]


def x12valid(text: str, tmp_path: Path) -> tuple[str, str]:
    exe = Path(sys.executable).with_name("x12valid")
    cmd = str(exe) if exe.exists() else shutil.which("x12valid")
    assert cmd, "pyx12's x12valid is not installed"
    path = tmp_path / "claims.837"
    path.write_text(text)
    # pyx12 4.0: exit code is meaningless; it logs "ERROR ..." lines and "<file>: OK"
    # or "<file>: Failure" to stderr. ICD-10/CPT are not among its external code
    # lists, so no --exclude-external-codes is needed.
    run = subprocess.run([cmd, str(path)], capture_output=True, text=True, timeout=120)
    return run.stdout + run.stderr, str(path)


def assert_pyx12_ok(text: str, tmp_path: Path) -> None:
    out, path = x12valid(text, tmp_path)
    assert f"{path}: OK" in out, out
    assert "Failure" not in out, out
    assert "ERROR" not in out, out


def test_mixed_batch_passes_pyx12(tmp_path: Path) -> None:
    assert_pyx12_ok(render(*mixed_batch()), tmp_path)


def test_pyx12_check_really_catches_errors(tmp_path: Path) -> None:
    """The validation helper must be able to fail, or the test above proves nothing."""
    text = render(*mixed_batch()).replace("*Y*A*Y*Y~", "*Y*A*Y~", 1)
    out, path = x12valid(text, tmp_path)
    assert f"{path}: Failure" in out
    assert "CLM09" in out


def test_names_with_delimiters_and_accents_stay_valid(tmp_path: Path) -> None:
    patient = f.person(last_name="O'Brien*Núñez~", first_name="Zoë:Ann^")
    text = render(Outgoing(f.claim(1, patient=patient)))
    assert "NM1*IL*1*O'BRIEN NUNEZ*ZOE ANN****MI*XYZ123456789~" in text
    assert_pyx12_ok(text, tmp_path)


def test_parses_back_through_x12sdk() -> None:
    batch = mixed_batch()
    text = render(*batch)
    with X12ModelReader(text) as reader:
        models: list[Any] = list(reader.models())
    assert len(models) == 1
    read = list(models[0].claims())
    by_pcn = {c.patient_control_number: c for c in read}
    assert len(read) == len(batch)
    for out in batch:
        claim: ClaimCoded = out.claim
        got = by_pcn[claim.patient_control_number]
        assert got.charge == Decimal(claim.total_charge_cents) / 100
        assert got.is_dependent == (
            claim.coverage is not None and claim.coverage.subscriber is not None
        )
        assert got.patient_name == (
            claim.patient.last_name.upper(),
            claim.patient.first_name.upper(),
        )
        hi = got.claim.hi_segment[0]
        codes = [getattr(hi, f"health_care_code_{k}") for k in range(1, 13)]
        codes = [c for c in codes if c]
        assert [c[1] for c in codes] == [d.replace(".", "") for d in claim.diagnoses]
        assert [c[0] for c in codes] == ["ABK"] + ["ABF"] * (len(claim.diagnoses) - 1)
        lines = got.service_lines
        assert len(lines) == len(claim.lines)
        for loop, line in zip(lines, claim.lines, strict=True):
            sv1 = loop.sv1_segment
            composite = sv1.product_service_id_qualifier.split(":")
            assert composite[0] == "HC"
            assert composite[1] == line.procedure_code
            assert composite[2:] == line.modifiers
            assert sv1.line_item_charge_amount == Decimal(line.charge_cents) / 100
            assert sv1.service_unit_count == line.units
            assert sv1.composite_diagnosis_code_pointer == ":".join(
                map(str, line.diagnosis_pointers)
            )


def test_hierarchy_groups_subscribers_and_dependents() -> None:
    text = render(*mixed_batch())
    hls = [s for s in segs(text) if s[0] == "HL"]
    # one billing provider, the self subscriber, the dependents' subscriber, 2 patients
    assert [(h[1], h[2], h[3], h[4]) for h in hls] == [
        ("1", "", "20", "1"),
        ("2", "1", "22", "0"),
        ("3", "1", "22", "1"),
        ("4", "3", "23", "0"),
        ("5", "3", "23", "0"),
    ]
    sbr = [s for s in segs(text) if s[0] == "SBR"]
    assert [s[:3] for s in sbr] == [["SBR", "P", "18"], ["SBR", "P", ""]]
    assert [s for s in segs(text) if s[0] == "PAT"] == [["PAT", "19"], ["PAT", "01"]]
    # the child's two claims share one 2000C
    order = [s[1] for s in segs(text) if s[0] in ("HL", "CLM")]
    assert order == [
        "1",
        "2",
        "PCN000001",
        "PCN000005",
        "3",
        "4",
        "PCN000002",
        "PCN000003",
        "5",
        "PCN000004",
    ]


def test_envelope_and_counts() -> None:
    text = render(*mixed_batch(), control=ControlNumbers(123, 45, 6789))
    s = segs(text)
    assert s[0][13] == "000000123"
    assert s[-1] == ["IEA", "1", "000000123"]
    assert s[1][6] == "45"
    assert s[1][8] == "005010X222A1"
    assert s[-2] == ["GE", "1", "45"]
    st = next(i for i, x in enumerate(s) if x[0] == "ST")
    se = next(i for i, x in enumerate(s) if x[0] == "SE")
    assert s[st] == ["ST", "837", "6789", "005010X222A1"]
    assert s[se] == ["SE", str(se - st + 1), "6789"]
    assert s[st + 1] == ["BHT", "0019", "00", "6789", "20250315", "0930", "CH"]
    assert ["PER", "IC", "EXAMPLE FAMILY PRACTICE", "TE", "5555551212"] in s
    assert len(text) == len(text.strip())  # no line breaks, one line


def test_claim_segments() -> None:
    text = render(*mixed_batch())
    s = segs(text)
    clm = next(x for x in s if x[0] == "CLM" and x[1] == "PCN000001")
    assert clm == ["CLM", "PCN000001", "155.5", "", "", "11:B:1", "Y", "A", "Y", "Y"]
    assert ["HI", "ABK:J069", "ABF:R059", "ABF:E119"] in s
    assert ["SV1", "HC:87880:QW:59:XU:76", "30.5", "UN", "2", "", "", "2:3:1"] in s
    assert ["DTP", "472", "D8", "20250314"] in s
    assert ["REF", "EI", "123456789"] in s
    assert ["PRV", "BI", "PXC", "207Q00000X"] in s
    assert ["NM1", "PR", "2", "ACME HEALTH PLAN", "", "", "", "", "PI", "ACME1"] in s


def test_replacement_claim_carries_ref_f8() -> None:
    text = render(*mixed_batch())
    s = segs(text)
    i = next(k for k, x in enumerate(s) if x[0] == "CLM" and x[1] == "PCN000005")
    assert s[i][5] == "11:B:7"
    assert s[i + 1] == ["REF", "F8", "PAYERCLM123"]
    assert sum(1 for x in s if x[:2] == ["REF", "F8"]) == 1


@pytest.mark.parametrize("freq", ["7", "8"])
def test_replacement_or_void_without_payer_claim_number_is_unbuildable(freq: str) -> None:
    with pytest.raises(Unbuildable, match=r"claim clm-0009: payer_claim_number") as exc:
        render(Outgoing(f.claim(9), frequency_code=freq))
    assert exc.value.claim_id == "clm-0009"
    assert exc.value.field == "payer_claim_number"


def test_rendering_provider_only_when_it_differs() -> None:
    same = f.claim(1, rendering_provider=f.rendering_provider(npi="1234567893"))
    assert "NM1*82*" not in render(Outgoing(same))
    other = render(Outgoing(f.claim(1)))
    assert "NM1*82*1*CHEN*DANA****XX*1987654328~PRV*PE*PXC*207Q00000X~" in other


@pytest.mark.parametrize(
    ("claim", "field"),
    [
        (lambda: f.claim(1, coverage=None), "coverage"),
        (lambda: f.claim(1, coverage=None, self_pay=True), "coverage"),
        (
            lambda: f.claim(1, billing_provider=f.billing_provider(tax_id=None)),
            "billing_provider.tax_id",
        ),
        (
            lambda: f.claim(1, billing_provider=f.billing_provider(address=None)),
            "billing_provider.address",
        ),
        (
            lambda: f.claim(1, billing_provider=f.billing_provider(address=f.address())),
            "billing_provider.address.postal_code",
        ),
        (
            lambda: f.claim(1, coverage=f.coverage(relationship=Relationship.child)),
            "coverage.subscriber",
        ),
        (lambda: f.claim(1, patient_control_number="PCN*1"), "patient_control_number"),
        (lambda: f.claim(1, coverage=f.coverage(member_id="AB~12")), "coverage.member_id"),
    ],
)
def test_unbuildable_names_claim_and_field(claim: Callable[[], ClaimCoded], field: str) -> None:
    good = Outgoing(f.claim(2))
    with pytest.raises(Unbuildable) as exc:
        render(good, Outgoing(claim()))
    assert exc.value.claim_id == "clm-0001"
    assert exc.value.field == field
    assert str(exc.value).startswith(f"claim clm-0001: {field} ")
    assert isinstance(exc.value, ValueError)


def test_one_payer_per_interchange() -> None:
    other = f.claim(2, coverage=f.coverage(payer_id="OTHER9"))
    with pytest.raises(ValueError, match="one 837P interchange per payer") as exc:
        render(Outgoing(f.claim(1)), Outgoing(other))
    assert not isinstance(exc.value, Unbuildable)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="at least one claim"):
        render()
    with pytest.raises(ValueError, match="interchange"):
        render(Outgoing(f.claim(1)), control=ControlNumbers(0, 1, 1))
    with pytest.raises(ValueError, match="contact_phone"):
        render_837p(
            [Outgoing(f.claim(1))],
            control=ControlNumbers(1, 1, 1),
            submitter=SUBMITTER,
            receiver=RECEIVER,
            contact_phone="555",
            at=AT,
        )


@pytest.mark.parametrize(
    ("payer_id", "directory_code"),
    [("04412", "MB"), ("MCR-IL", "CI"), ("00431", "12"), ("ACME1", "CI"), ("SKCO0", "MC")],
)
def test_sbr09_is_the_directory_filing_indicator_never_the_id(
    payer_id: str, directory_code: str
) -> None:
    """A real Medicare id (04412) files as MB because the directory says so; an id that
    merely starts with MCR is whatever the directory says (here commercial)."""
    cov = f.coverage(payer_id=payer_id, filing_indicator=directory_code)
    text = render(Outgoing(f.claim(1, payer_id=payer_id, coverage=cov)))
    assert ["SBR", "P", "18", "GRP001", "", "", "", "", "", directory_code] in segs(text)


def test_a_coverage_without_a_filing_indicator_is_unbuildable_naming_the_payer() -> None:
    cov = f.coverage(payer_id="04412", filing_indicator=None)
    with pytest.raises(Unbuildable, match=r"clm-0001: coverage.filing_indicator.*payer 04412"):
        render(Outgoing(f.claim(1, payer_id="04412", coverage=cov)))


def test_secondary_and_medicare(tmp_path: Path) -> None:
    cov = f.coverage(
        payer_id="MCR01",
        payer_name="Medicare Part B",
        priority=2,
        group_number=None,
        filing_indicator="MB",
    )
    text = render(Outgoing(f.claim(1, coverage=cov)))
    assert "SBR*S*18*******MB~" in text
    assert_pyx12_ok(text, tmp_path)


def test_twelve_diagnoses_and_four_pointers(tmp_path: Path) -> None:
    dx = [
        "A00.0",
        "B01.9",
        "C50.911",
        "D50.9",
        "E11.9",
        "F32.9",
        "G43.909",
        "H10.9",
        "I10",
        "J45.909",
        "K21.9",
        "L03.90",
    ]
    claim = f.claim(1, diagnoses=dx, lines=[f.line(1, diagnosis_pointers=[12, 11, 10, 1])])
    text = render(Outgoing(claim))
    hi = next(s for s in segs(text) if s[0] == "HI")
    assert len(hi) == 13
    assert hi[1] == "ABK:A000"
    assert hi[12] == "ABF:L0390"
    assert "*UN*1***12:11:10:1~" in text
    assert_pyx12_ok(text, tmp_path)


def test_a_void_and_a_replacement_in_one_interchange_pass_pyx12(tmp_path: Path) -> None:
    void = Outgoing(f.claim(1), frequency_code="8", payer_claim_number="PAYER0001")
    replacement = Outgoing(f.claim(2), frequency_code="7", payer_claim_number="PAYER0002")
    text = render(void, replacement)
    s = segs(text)
    clms = [(k, x) for k, x in enumerate(s) if x[0] == "CLM"]
    assert [x[5] for _, x in clms] == ["11:B:8", "11:B:7"]
    assert [s[k + 1] for k, _ in clms] == [["REF", "F8", "PAYER0001"], ["REF", "F8", "PAYER0002"]]
    assert_pyx12_ok(text, tmp_path)


def test_twenty_five_claims_in_one_interchange_pass_pyx12(tmp_path: Path) -> None:
    """The batcher's default cap: one payer, many subscribers, one ST/SE."""
    claims = [
        Outgoing(f.claim(n, patient=f.person(id=f"MRN{n:04d}", first_name=f"Pat{chr(64 + n)}")))
        for n in range(1, 26)
    ]
    text = render(*claims)
    assert sum(1 for x in segs(text) if x[0] == "CLM") == 25
    assert sum(1 for x in segs(text) if x[0] == "ST") == 1
    assert_pyx12_ok(text, tmp_path)
