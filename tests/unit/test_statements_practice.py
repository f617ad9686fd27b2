"""Whose statement it is: each tenant's own practice on the header, the stub and the ways
to pay, from its settings or the billing provider its visits were billed under; and what
does not fit a column wraps instead of being cut."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from pypdf import PdfReader

from services.statements import domain, render
from services.statements.config import StatementSettings
from services.statements.practice import PracticeConfig, practice_for

pytestmark = pytest.mark.unit

MAPLE = {
    "name": "MAPLE FAMILY MEDICINE",
    "npi": "1586402734",
    "address": {
        "line1": "1200 ORCHARD VALE RD",
        "line2": "SUITE 100",
        "city": "CEDAR HOLLOW",
        "state": "VT",
        "postal_code": "056019912",
    },
}


def test_a_statement_shows_the_practice_its_visits_were_billed_under() -> None:
    p = practice_for(None, PracticeConfig(), MAPLE)
    assert (p.name, p.street, p.city_line) == (
        "MAPLE FAMILY MEDICINE",
        "1200 ORCHARD VALE RD, SUITE 100",
        "CEDAR HOLLOW, VT 05601-9912",
    )
    # nobody configured a phone or a payment site: none is made up
    assert (p.phone, p.pay_url) == (None, None)
    assert p.contact == "our billing office"


def test_the_tenants_own_settings_win_field_by_field() -> None:
    own = PracticeConfig(phone="(802) 555-0142", billing_contact="Dana, billing office")
    deployment = PracticeConfig(name="Whole Deployment Clinic", pay_url="https://pay.test")
    p = practice_for(own, deployment, MAPLE)
    assert p.name == "Whole Deployment Clinic"  # the deployment's, over the claim's
    assert (p.phone, p.billing_contact) == ("(802) 555-0142", "Dana, billing office")
    assert p.pay_url == "https://pay.test"
    assert p.street == "1200 ORCHARD VALE RD, SUITE 100"  # nobody set it: from the claim


def test_each_tenants_practice_is_read_from_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "RCM_STATEMENTS_PRACTICES",
        '{"maple": {"phone": "(802) 555-0142"}, "lakeside": {"name": "Lakeside Clinic"}}',
    )
    cfg = StatementSettings()
    assert cfg.practices["maple"].phone == "(802) 555-0142"
    assert cfg.practices["lakeside"].name == "Lakeside Clinic"
    monkeypatch.setenv("RCM_STATEMENTS_PRACTICES", '{"maple": {"colour": "red"}}')
    with pytest.raises(ValueError, match="colour"):
        StatementSettings()


def _text(doc: dict[str, object]) -> str:
    reader = PdfReader(io.BytesIO(render.to_pdf(doc)))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_long_ids_names_and_descriptions_are_printed_whole() -> None:
    practice = practice_for(
        PracticeConfig(
            name="The Green Mountain Family and Community Medicine Associates of Cedar Hollow",
            phone="(802) 555-0142",
        ),
        PracticeConfig(),
        MAPLE,
    )
    statement_id = "S-CABCDEFGHIJKLMNO-12"
    account = "20261207174512ab12-MRN0048213377"
    claim = domain.ClaimOnStatement(
        claim_id="CABCDEFGHIJKLMNO",
        patient_name="Maximiliana Alexandrina Featherstonehaugh-Montgomery",
        date_of_service=dt.date(2026, 12, 6),
        lines=[
            {"code": "99497", "modifiers": ["25", "33"], "units": 1, "charge_cents": 19000},
            {"code": "84439", "modifiers": [], "units": 1, "charge_cents": 3100},
        ],
        postings=[("charge", 22100), ("insurance_payment", -15000)],
        first_billed_on=dt.date(2026, 12, 7),
    )
    doc = domain.build_statement(
        statement_id=statement_id,
        today=dt.date(2026, 12, 7),
        due_days=30,
        collections_after_days=120,
        practice=practice,
        guarantor={"account": account, "name": "Pat Doe", "address": {}},
        claims=[claim],
        unapplied=[],
    )
    flat = re.sub(r"\s+", "", _text(doc))
    for whole in (
        practice.name,
        "Advance care planning discussion, first 30 minutes",
        "Laboratory test",  # a code no table has: its category
        claim.patient_name,
    ):
        assert re.sub(r"\s+", "", whole) in flat
    # the stub: the full account and statement id, whatever their length
    stub = flat[flat.index("Amountenclosed") :]
    assert account in stub
    assert statement_id in stub
