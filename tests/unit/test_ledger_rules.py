"""The rules of people's commands on a patient account, and an agency's payment file."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from rcm.cli_collections import app as collections_app
from services.statements import collections, ledger_rules
from services.statements.domain import Entry, totals

pytestmark = pytest.mark.unit


def test_credit_goes_to_the_chosen_claim_first_and_never_past_a_balance() -> None:
    got = ledger_rules.apply_credit(5000, [("OLD", 1000), ("NEW", 3000)], 0, "NEW")
    assert got == [
        ("NEW", Entry("credit_applied", -3000, "account credit")),
        (None, Entry("credit_applied", 3000, "to NEW")),
        ("OLD", Entry("credit_applied", -1000, "account credit")),
        (None, Entry("credit_applied", 1000, "to OLD")),
    ]


def test_an_agency_payment_beyond_the_balances_is_a_credit() -> None:
    got = ledger_rules.agency_payment([("C1", 2000)], 2500, "agency:ACME:R1")
    assert [(c, e.amount_cents) for c, e in got] == [("C1", -2000), (None, -500)]


def test_a_transfer_to_the_patient_is_bounded_by_what_the_payers_adjusted() -> None:
    t = totals([("charge", 20000), ("insurance_payment", -12000), ("contractual", -5000)])
    assert ledger_rules.transfer("C", t, 5000, "to_patient", "NC") == [
        ("C", Entry("transfer", 5000, "TO-PATIENT NC"))
    ]
    with pytest.raises(ledger_rules.Refused, match="more than the payers adjusted"):
        ledger_rules.transfer("C", t, 5001, "to_patient", "NC")


def test_approval_needs_another_person_whose_role_covers_the_amount() -> None:
    limits = {"work": 2000, "admin": 9000}
    assert not ledger_rules.needs_approval(2000, "work", limits)
    assert ledger_rules.needs_approval(2001, "work", limits)
    assert ledger_rules.needs_approval(1, "intern", limits)  # a role not named: always
    ledger_rules.approval(9000, "k_a", "k_b", "admin", limits)
    with pytest.raises(ledger_rules.Refused, match="other than its requester"):
        ledger_rules.approval(10, "k_a", "k_a", "admin", limits)


def test_an_agency_file_reads_to_cents() -> None:
    [p] = collections.parse_payments(
        "account,payment_ref,collected,fee,received_on\nG-1,R-9,$125.50,31.38,2026-11-02\n"
    )
    assert (p.account, p.payment_ref, p.collected_cents, p.fee_cents) == ("G-1", "R-9", 12550, 3138)
    assert collections.dollars(12550) == "125.50"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("account,payment_ref,collected,fee\nG,R,1.00,0\n", "row 1: missing column(s) received_on"),
        (
            "account,payment_ref,collected,fee,received_on\nG,R,1.005,0,2026-01-02\n",
            "row 2, column collected: '1.005' is not an amount in dollars and cents",
        ),
        (
            "account,payment_ref,collected,fee,received_on\nG,R,1.00,2.00,2026-01-02\n",
            "row 2, column fee: more than collected",
        ),
    ],
)
def test_an_agency_file_with_a_fault_names_its_row_and_column(text: str, error: str) -> None:
    with pytest.raises(collections.AgencyFileError) as exc:
        collections.parse_payments(text)
    assert str(exc.value) == error


def test_rcm_collections_import_names_the_bad_row_and_sends_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "acme.csv"
    bad.write_text(
        "account,payment_ref,collected,fee,received_on\n"
        "G-1,R-1,25.00,5.00,2026-11-02\n"
        "G-2,R-2,ten dollars,0,2026-11-02\n",
        encoding="utf-8",
    )
    r = CliRunner().invoke(
        collections_app, ["import", str(bad), "--tenant", "t1", "--agency", "ACME"]
    )
    assert r.exit_code == 1
    assert r.stderr.strip() == (
        f"error: {bad}: row 3, column collected: 'ten dollars' is not an amount in dollars"
    )
