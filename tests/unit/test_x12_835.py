"""835 reader: real-payer shapes parse, balance, and agree with an independent reader;
bad text fails as X12Error naming the segment and position, and nothing else."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from x12sdk.generate import (
    ClaimSpec,
    ServiceLineSpec,
    denial,
    generate_835,
    provider_adjustment,
)
from x12sdk.io import X12ModelReader

from runtime.x12 import Envelope, X12Error, segment, transaction, wrap
from services.remittance.x12_835.as_json import to_json
from services.remittance.x12_835.balancing import balance_problems
from services.remittance.x12_835.model import Cas, Remittance
from services.remittance.x12_835.reader import parse_835

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent.parent / "fixtures" / "x12"


def x835(*bodies: list[str], icn: int = 1, group: int = 1) -> str:
    """An interchange around hand-written 835 bodies (one ST/SE per body)."""
    env = Envelope(
        "ZZ",
        "PAYER",
        "ZZ",
        "PROVIDER",
        "HP",
        "005010X221A1",
        icn,
        group,
        at=dt.datetime(2025, 4, 1, 8, 0, tzinfo=dt.UTC),
    )
    txns = [transaction("835", f"{k:04d}", body) for k, body in enumerate(bodies, start=1)]
    return wrap(env, txns)


def header(amount: str, trace: str = "TRACE1") -> list[str]:
    return [
        segment(
            "BPR",
            "I",
            amount,
            "C",
            "ACH",
            "CCP",
            "01",
            "011000015",
            "DA",
            "123",
            "1512345678",
            "",
            "01",
            "021000021",
            "DA",
            "456",
            "20250401",
        ),
        segment("TRN", "1", trace, "1512345678"),
        segment("N1", "PR", "ACME HEALTH PLAN"),
        segment("REF", "2U", "ACME1"),
        segment("N1", "PE", "EXAMPLE FAMILY PRACTICE", "XX", "1234567893"),
        segment("REF", "TJ", "123456789"),
    ]


def sdk_claims(
    text: str,
) -> list[tuple[str, str, Decimal, Decimal, list[tuple[str, Decimal, Decimal]]]]:
    """x12sdk's reading of every CLP and its SVCs: the independent oracle."""
    out = []
    with X12ModelReader(text) as reader:
        for model in reader.models():
            for c in cast(Any, model).claims():
                lines = [
                    (
                        ln.svc_segment.composite_medical_procedure_identifier_1,
                        ln.svc_segment.line_item_charge_amount,
                        ln.svc_segment.line_item_provider_payment_amount,
                    )
                    for ln in c.service_lines
                ]
                out.append((c.patient_control_number, c.status, c.charge, c.paid, lines))
    return out


def ours(
    rem: Remittance,
) -> list[tuple[str, str, Decimal, Decimal, list[tuple[str, Decimal, Decimal]]]]:
    return [
        (
            c.patient_control_number,
            c.status_code,
            Decimal(c.charge.cents) / 100,
            Decimal(c.paid.cents) / 100,
            [
                (
                    ":".join([ln.qualifier, ln.procedure, *ln.modifiers]),
                    Decimal(ln.charge.cents) / 100,
                    Decimal(ln.paid.cents) / 100,
                )
                for ln in c.lines
            ],
        )
        for c in rem.claims
    ]


def found(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match, pattern
    return match.group(1)


# --- generated files ---------------------------------------------------------


@pytest.mark.parametrize(("seed", "claims"), [(s, 1 + 7 * s % 23) for s in range(12)])
def test_generated_files_parse_balance_and_match_x12sdk(seed: int, claims: int) -> None:
    text = generate_835(seed=seed, claims=claims)
    rem = parse_835(text)
    assert len(rem.claims) == claims
    assert balance_problems(rem) == []
    assert ours(rem) == sdk_claims(text)
    payment = rem.payments[0]
    assert payment.trace_number == found(r"TRN\*1\*([^*~]+)", text)
    assert payment.payee_npi == found(r"N1\*PE\*[^*]*\*XX\*(\d+)", text)


def test_scenario_denials_and_provider_adjustments() -> None:
    spec = [
        ClaimSpec(
            charge=Decimal("900.00"),
            lines=[
                ServiceLineSpec(
                    charge=Decimal("600.00"),
                    procedure="99214",
                    adjustments=[denial("CO", "97", "300.00"), denial("PR", "1", "50.00")],
                ),
                ServiceLineSpec(
                    charge=Decimal("300.00"),
                    procedure="93000",
                    adjustments=[denial("CO", "50", "300.00")],
                ),
            ],
        ),
        ClaimSpec(
            charge=Decimal("250.00"),
            status="4",
            adjustments=[denial("CO", "29", "250.00")],
            patient_control_number="LATE1",
        ),
        ClaimSpec(charge=Decimal("125.50")),
    ]
    pa = [provider_adjustment("WO", "25.00", "PCN000099"), provider_adjustment("L6", "-3.10")]
    text = generate_835(seed=1, claims=spec, provider_adjustments=pa)
    rem = parse_835(text)
    assert balance_problems(rem) == []
    assert ours(rem) == sdk_claims(text)
    first, denied, paid = rem.claims
    assert [a.reason for a in first.all_adjustments] == ["97", "1", "50"]
    assert first.paid.cents == 90000 - 30000 - 5000 - 30000
    assert first.patient_responsibility_cents == 5000
    assert denied.status_code == "4"
    assert denied.paid.cents == 0
    assert denied.adjustments == (Cas("CO", "29", denied.adjustments[0].amount, None),)
    assert paid.paid.cents == 12550
    js = to_json(rem)
    assert [(p["reason"], p["reference"], p["amount"]) for p in js["provider_adjustments"]] == [
        ("WO", "PCN000099", "25.00"),
        ("L6", None, "-3.10"),
    ]
    assert rem.payments[0].amount.cents == first.paid.cents + 12550 - 2500 + 310


def test_several_transactions_and_interchanges_balance_separately() -> None:
    a = generate_835(seed=5, claims=3)
    b = generate_835(seed=6, claims=4, control_number="0002").replace(
        "*000000001*", "*000000002*"
    )  # a second interchange has its own ISA13/IEA02 (the same one twice is refused)
    rem = parse_835(a + "\n" + b)
    assert len(rem.payments) == 2
    assert [c.transaction for c in rem.claims] == [0, 0, 0, 1, 1, 1, 1]
    assert {c.trace_number for c in rem.claims[3:]} == {rem.payments[1].trace_number}
    assert balance_problems(rem) == []
    assert ours(rem) == sdk_claims(a) + sdk_claims(b)


# --- hand-written shapes -----------------------------------------------------


def test_reversal_and_correction_keep_stated_signs() -> None:
    body = [
        *header("10"),
        segment("LX", "1"),
        segment("CLP", "PCN1", "22", "-100", "-80", "-20", "12", "PAYER-CLM-1", "11", "1"),
        segment("NM1", "QC", "1", "RIVERA", "ALEX", "", "", "", "MI", "XYZ1"),
        segment("SVC", "HC:99213", "-100", "-80", "", "1"),
        segment("DTM", "472", "20250314"),
        segment("CAS", "PR", "1", "-20"),
        segment("CLP", "PCN1", "1", "100", "90", "10", "12", "PAYER-CLM-2", "11", "7"),
        segment("CAS", "PR", "1", "10"),
        segment("SVC", "HC:99213", "100", "100", "", "1"),
        segment("DTM", "472", "20250314"),
    ]
    rem = parse_835(x835(body))
    assert balance_problems(rem) == []
    rev, corr = rem.claims
    assert rev.is_reversal
    assert not corr.is_reversal
    assert (rev.charge.cents, rev.paid.cents, rev.patient_responsibility_cents) == (
        -10000,
        -8000,
        -2000,
    )
    assert rev.adjustments == ()
    assert rev.lines[0].adjustments[0].amount.cents == -2000
    assert corr.adjustments[0].amount.cents == 1000
    assert corr.lines[0].adjustments == ()
    assert rev.lines[0].charge.text == "-100"
    assert rev.lines[0].paid.cents == -8000
    assert (corr.paid.cents, corr.payer_claim_number, corr.frequency_code) == (
        9000,
        "PAYER-CLM-2",
        "7",
    )
    assert rem.payments[0].amount.cents == 1000


def _detailed() -> Remittance:
    """One claim with MOA remarks, statement dates, a line with an original procedure,
    CAS of six triplets, REF*6R, AMT*B6 and LQ, and a PLB of three pairs."""
    body = [
        *header("40"),
        segment("LX", "1"),
        segment("CLP", "PCN7", "1", "200", "40", "60", "12", "PCLM7"),
        segment("NM1", "QC", "1", "DOE", "JANE", "", "", "", "MI", "M7"),
        segment("MOA", "", "", "MA01", "N20"),
        segment("DTM", "232", "20250301"),
        segment("DTM", "233", "20250302"),
        segment("SVC", "HC:99215:25:GT", "200", "40", "", "2", "HC:99214:25", "1"),
        segment("DTM", "472", "20250301"),
        segment(
            "CAS",
            "CO",
            "45",
            "10",
            "",
            "253",
            "1",
            "",
            "59",
            "2",
            "1",
            "B10",
            "3",
            "",
            "W1",
            "4",
            "",
            "A1",
            "5",
        ),
        segment("CAS", "PR", "1", "50", "", "2", "10"),
        segment("CAS", "OA", "23", "75"),
        segment("REF", "6R", "LINE-7-1"),
        segment("AMT", "B6", "140"),
        segment("LQ", "HE", "M15"),
        segment("LQ", "HE", "N130"),
        segment("PLB", "1234567893", "20251231", "FB:REF1", "-5", "WO:REF2", "5", "72", "0"),
    ]
    return parse_835(x835(body))


def test_claim_details_moa_remarks_and_statement_dates() -> None:
    rem = _detailed()
    assert balance_problems(rem) == []
    (claim,) = rem.claims
    assert claim.remarks == ("MA01", "N20")
    assert (claim.statement_from, claim.statement_to) == (dt.date(2025, 3, 1), dt.date(2025, 3, 2))
    assert (claim.patient_last_name, claim.member_id) == ("DOE", "M7")


def test_line_details_cas_triplets_remarks_and_original_procedure() -> None:
    rem = _detailed()
    (line,) = rem.claims[0].lines
    assert (line.procedure, line.modifiers, line.units) == ("99215", ("25", "GT"), "2")
    assert (line.original_procedure, line.original_modifiers) == ("99214", ("25",))
    assert [(a.group, a.reason, a.amount.text, a.quantity) for a in line.adjustments] == [
        ("CO", "45", "10", None),
        ("CO", "253", "1", None),
        ("CO", "59", "2", "1"),
        ("CO", "B10", "3", None),
        ("CO", "W1", "4", None),
        ("CO", "A1", "5", None),
        ("PR", "1", "50", None),
        ("PR", "2", "10", None),
        ("OA", "23", "75", None),
    ]
    assert line.allowed is not None
    assert line.allowed.cents == 14000
    assert line.remarks == ("M15", "N130")
    assert line.control_number == "LINE-7-1"
    assert line.service_date == dt.date(2025, 3, 1)


def test_provider_adjustments_and_payment_of_the_detailed_file() -> None:
    rem = _detailed()
    assert [(p.reason, p.reference, p.amount.cents) for p in rem.provider_adjustments] == [
        ("FB", "REF1", -500),
        ("WO", "REF2", 500),
        ("72", None, 0),
    ]
    payment = rem.payments[0]
    assert (payment.method, payment.date, payment.payer_id, payment.payee_tax_id) == (
        "ACH",
        dt.date(2025, 4, 1),
        "ACME1",
        "123456789",
    )


def test_the_detailed_file_as_json_keeps_amounts_as_stated() -> None:
    rem = _detailed()
    (line,) = rem.claims[0].lines
    js = to_json(rem)
    assert js["payments"] == [
        {"amount": "40", "method": "ACH", "date": "2025-04-01", "trace": "TRACE1"}
    ]
    assert js["claims"][0]["lines"][0] == {
        "procedure": "99215",
        "modifiers": ["25", "GT"],
        "charge": "200",
        "paid": "40",
        "allowed": "140",
        "units": "2",
        "adjustments": [
            {"group": a.group, "reason": a.reason, "amount": a.amount.text}
            for a in line.adjustments
        ],
        "remarks": ["M15", "N130"],
    }
    assert js["claims"][0]["patient_responsibility"] == "60"


def test_other_delimiters_parse_identically() -> None:
    text = generate_835(seed=11, claims=6)
    assert "|" not in text
    assert ">" not in text
    assert "!" not in text
    odd = text.replace("*", "|").replace(":", ">").replace("~\n", "!").replace("~", "!")
    assert "\n" not in odd
    assert odd[103:106] == "|>!"  # ISA16 and the terminator as the ISA declares them
    assert to_json(parse_835(odd)) == to_json(parse_835(text))
    crlf = text.replace("~\n", "~\r\n")
    assert to_json(parse_835(crlf)) == to_json(parse_835(text))


def test_unbalanced_file_reports_exact_discrepancies() -> None:
    text = generate_835(seed=2, claims=3)
    rem = parse_835(text)
    bpr = found(r"BPR\*I\*([0-9.]+)\*", text)
    bumped = text.replace(f"BPR*I*{bpr}*", f"BPR*I*{Decimal(bpr) + Decimal('0.07')}*", 1)
    problems = balance_problems(parse_835(bumped))
    assert len(problems) == 1
    assert "BPR02" in problems[0]
    assert "off by 7 cents" in problems[0]
    assert rem.payments[0].trace_number in problems[0]

    clp = rem.claims[0]
    svc = clp.lines[0]
    broken = text.replace(
        f"SVC*HC:{svc.procedure}*{svc.charge.text}*{svc.paid.text}*",
        f"SVC*HC:{svc.procedure}*{svc.charge.text}*{Decimal(svc.paid.text) - 1}*",
        1,
    )
    problems = balance_problems(parse_835(broken))
    assert problems == [
        f"claim {clp.patient_control_number} line 1 ({svc.procedure}, segment {svc.segment}): "
        f"charge {Decimal(svc.charge.text):.2f} - paid {Decimal(svc.paid.text) - 1:.2f} = "
        f"{Decimal(svc.charge.text) - Decimal(svc.paid.text) + 1:.2f} but its adjustments total "
        f"{Decimal(svc.charge.cents - svc.paid.cents) / 100:.2f}, off by 100 cents"
    ]


# --- public fixtures ---------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("X221-*.edi")))
def test_public_fixture_parses_and_balances(name: str) -> None:
    text = (FIXTURES / name).read_text()
    rem = parse_835(text)
    assert rem.claims
    assert balance_problems(rem) == []
    assert ours(rem) == sdk_claims(text)


def test_public_fixture_details() -> None:
    rem = parse_835((FIXTURES / "X221-dollars-and-data-sent-together.edi").read_text())
    assert [(p.reason, p.reference, p.amount.text) for p in rem.provider_adjustments] == [
        ("CV", "CP", "-1.27")
    ]
    assert rem.payments[0].amount.text == "150000"
    assert rem.claims[1].remarks == ("MA02",)
    rem = parse_835((FIXTURES / "X221-secondary-payments.edi").read_text())
    assert rem.claims[0].lines == ()
    cas = rem.claims[1].lines[1].adjustments
    assert [(a.group, a.reason, a.amount.cents) for a in cas] == [
        ("PR", "1", 15000),
        ("PR", "2", 7000),
        ("CO", "42", 8500),
    ]
    assert rem.claims[1].lines[0].modifiers == ("26",)


# --- bad text ----------------------------------------------------------------

GOOD = generate_835(seed=4, claims=3)


def _message(text: str) -> str:
    with pytest.raises(X12Error) as exc:
        parse_835(text)
    return str(exc.value)


@pytest.mark.parametrize("junk", ["", "hello", "ISA", '{"json": true}', "<xml/>", "\x00" * 200])
def test_not_x12(junk: str) -> None:
    assert "segment 1" in _message(junk)


@pytest.mark.parametrize("cut", [150, len(GOOD) // 2, len(GOOD) - 12])
def test_truncated(cut: int) -> None:
    msg = _message(GOOD[:cut])
    assert "truncated" in msg
    assert re.search(r"\(segment \d+, position \d+\)$", msg)


def test_non_numeric_amount_names_segment_id_and_position() -> None:
    text = GOOD.replace("CLP*PCN000002*1*", "CLP*PCN000002*1*12X.00*", 1)
    n = next(i for i, s in enumerate(text.split("~"), 1) if s.strip().startswith("CLP*PCN000002"))
    assert _message(text) == f"CLP03 is not a decimal amount: '12X.00' (segment {n}, position 3)"


def test_clp_outside_a_transaction() -> None:
    text = GOOD.replace("ST*835*0001~\n", "CLP*X*1*1*1~\nST*835*0001~\n")
    assert _message(text) == "CLP outside a transaction (no ST before it) (segment 3, position 0)"


def test_mis_delimited() -> None:
    text = GOOD.replace("*", "|", 3)  # ISA declares '*' but uses '|' for a few elements
    assert "ISA" in _message(text)
    assert "unusable delimiters" in _message(GOOD[:104] + "::" + GOOD[106:])


def test_other_transaction_type() -> None:
    assert "ST01 '837' is not an 835" in _message(GOOD.replace("ST*835*", "ST*837*"))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.one_of(st.text(), st.binary().map(lambda b: b.decode("latin-1"))))
def test_random_text_raises_only_x12error(junk: str) -> None:
    with contextlib.suppress(X12Error):
        parse_835(junk)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.integers(0, len(GOOD) - 1), st.text(min_size=0, max_size=3), st.integers(0, 3))
def test_mutated_files_raise_only_x12error(at: int, insert: str, delete: int) -> None:
    text = GOOD[:at] + insert + GOOD[at + delete :]
    try:
        rem = parse_835(text)
    except X12Error:
        return
    balance_problems(rem)
    to_json(rem)
