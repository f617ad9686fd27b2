"""A patient's statement and the page a statement email opens pass axe-core's WCAG 2.1 AA
and best-practice rules in headless Chromium; and the check can fail."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from services.gateway.routes import statement_view
from services.statements import domain, render
from services.statements.practice import PracticeConfig, practice_for
from tests.a11y import violations

pytestmark = pytest.mark.integration


def statement() -> dict[str, object]:
    claim = domain.ClaimOnStatement(
        claim_id="CABCDEFGHIJKLMNO",
        patient_name="Sam Doe",
        date_of_service=dt.date(2026, 12, 6),
        lines=[
            {"code": "99214", "modifiers": ["25"], "units": 1, "charge_cents": 18000},
            {"code": "87880", "modifiers": [], "units": 1, "charge_cents": 3500},
        ],
        postings=[("charge", 21500), ("insurance_payment", -15000), ("contractual", -3000)],
        first_billed_on=dt.date(2026, 12, 7),
    )
    return domain.build_statement(
        statement_id="S-CABCDEFGHIJKLMNO-1",
        today=dt.date(2026, 12, 7),
        due_days=30,
        collections_after_days=120,
        practice=practice_for(
            PracticeConfig(phone="(802) 555-0142"),
            PracticeConfig(),
            {"name": "MAPLE FAMILY MEDICINE"},
        ),
        guarantor={"account": "MRN1-7F3A9C", "name": "Pat Doe", "address": {}},
        claims=[claim],
        unapplied=[],
    )


def test_the_html_statement_passes_axe(tmp_path: Path) -> None:
    assert violations(render.to_html(statement()), tmp_path) == {}


def test_the_statement_pages_a_link_opens_pass_axe(tmp_path: Path) -> None:
    form = statement_view._page("Your statement", statement_view._form("No match."))
    assert violations(bytes(form.body).decode(), tmp_path) == {}
    gone = statement_view._gone()
    assert violations(bytes(gone.body).decode(), tmp_path) == {}


def test_the_check_finds_what_a_page_gets_wrong(tmp_path: Path) -> None:
    bad = "<html><body><img src='x.png'><input></body></html>"
    found = violations(bad, tmp_path)
    assert {"image-alt", "label", "html-has-lang"} <= set(found)
