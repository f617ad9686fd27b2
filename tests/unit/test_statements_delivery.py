"""What a statement email says (and does not), and what a print vendor gets."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from services.statements import delivery
from services.statements.config import StatementSettings

pytestmark = pytest.mark.unit

CFG = StatementSettings(smtp_host="mail.example", mail_from="billing@maple.example", link_days=60)
DOC = {
    "statement_id": "S-CABCDEFGHIJKLMNO-2",
    "statement_date": "2026-12-07",
    "due_date": "2027-01-06",
    "practice": {"name": "MAPLE FAMILY MEDICINE", "street": "1200 ORCHARD VALE RD",
                 "city_line": "CEDAR HOLLOW, VT 05601-9912", "phone": "(802) 555-0142"},
    "guarantor": {"account": "MRN00481233-7F3A9C", "name": "Pat Doe",
                  "address": {"line1": "9 ELM ST", "city": "BARRE", "state": "VT",
                              "postal_code": "056411234"}},
    "claims": [],
    "totals": {"charges_cents": 0, "insurance_paid_cents": 0, "adjustments_cents": 0,
               "patient_paid_cents": 0, "claims_balance_cents": 12345, "credit_cents": 0},
    "balance_cents": 12345,
    "amount_due_cents": 12345,
    "aging": {"0-30": 12345, "31-60": 0, "61-90": 0, "91-120": 0, "120+": 0},
    "aging_bucket": "0-30",
    "collections": False,
    "message": "Thank you.",
    "how_to_pay": [],
}  # fmt: skip


def test_the_email_names_the_practice_and_the_link_and_nothing_about_the_bill() -> None:
    msg = delivery.email_message(DOC, "pat@example.org", "https://p.example/s/TOKEN", CFG)
    assert msg["Subject"] == "A new statement from MAPLE FAMILY MEDICINE"
    assert msg["Message-ID"] == "<S-CABCDEFGHIJKLMNO-2@maple.example>"
    body = msg.get_content()
    assert "https://p.example/s/TOKEN" in body
    assert "(802) 555-0142" in body
    for private in ("123.45", "$", "Pat Doe", "MRN00481233"):
        assert private not in body


def test_only_a_person_who_chose_paperless_and_gave_an_address_gets_email() -> None:
    assert delivery.channel("pat@example.org", True, CFG) == "email"
    assert delivery.channel("pat@example.org", False, CFG) == "print"
    assert delivery.channel(None, True, CFG) == "print"
    no_server = StatementSettings(smtp_host=None)
    assert delivery.channel("pat@example.org", True, no_server) == "print"


def test_a_batch_has_one_name_for_its_statements_whatever_their_order() -> None:
    day = dt.date(2026, 12, 7)
    assert delivery.batch_name("t", ["S-2", "S-1"], day) == delivery.batch_name(
        "t", ["S-1", "S-2"], day
    )
    assert delivery.batch_name("t", ["S-1"], day) != delivery.batch_name("u", ["S-1"], day)


def test_a_print_batch_is_whole_and_written_once(tmp_path: Path) -> None:
    first = delivery.write_batch(tmp_path, "t", "20261207-abc", [DOC])
    row = next(csv.DictReader((first / "manifest.csv").open()))
    assert row["postal_code"] == "05641-1234"
    assert row["amount_due"] == "123.45"
    assert row["return_name"] == "MAPLE FAMILY MEDICINE"
    assert (first / row["pdf"]).read_bytes().startswith(b"%PDF")
    (first / "marker").write_text("kept")
    again = delivery.write_batch(tmp_path, "t", "20261207-abc", [DOC])
    assert (again / "marker").exists()  # not made twice
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == ["20261207-abc"]
