"""The appeal rules (services/claims/appeals.py): the payer's deadline, the answer due,
the letter's template and facts, and what the payer's next answer decides."""

from __future__ import annotations

import datetime as dt

import pytest

from services.claims import appeals

pytestmark = pytest.mark.unit


def facts(category: str = "appealable", **kw: object) -> appeals.Facts:
    base: dict[str, object] = {
        "appeal_id": "CLM1-A1",
        "claim_id": "CLM1",
        "patient_control_number": "PCN1",
        "payer_id": "MCR01",
        "payer_name": "MEDICARE PART B SIM",
        "payer_claim_number": "ICN-9",
        "date_of_service": dt.date(2026, 3, 2),
        "determination_date": dt.date(2026, 4, 1),
        "deadline": dt.date(2026, 7, 30),
        "charge_cents": 31000,
        "paid_cents": 9200,
        "category": category,
        "lines": (appeals.Line(2, "20610", "CO", "197", 16000),),
        "attachments": ("office note",),
    }
    return appeals.Facts(**{**base, **kw})  # type: ignore[arg-type]


def test_medicare_redetermination_is_due_120_days_after_the_initial_determination() -> None:
    assert appeals.deadline(dt.date(2026, 4, 1), 120) == dt.date(2026, 7, 30)
    assert appeals.answer_due(dt.date(2026, 4, 10), 60) == dt.date(2026, 6, 9)


def test_the_letter_template_follows_the_lines_categories() -> None:
    assert appeals.category_of(["write_off", "appealable"]) == "appealable"
    assert appeals.category_of(["correctable", "write_off"]) == "correctable"
    assert appeals.category_of(["write_off"]) == "write_off"
    assert appeals.letter_lines(facts("correctable"))[0].startswith("Request for reopening")


def test_the_letter_names_the_claims_facts() -> None:
    text = "\n".join(appeals.letter_lines(facts()))
    assert "Payer claim number (ICN): ICN-9" in text
    assert "Date of service: 2026-03-02" in text
    assert "Billed $310.00; paid $92.00" in text
    assert "- line 2 CPT/HCPCS 20610: adjusted CO-197, $160.00" in text
    assert "Enclosed: office note" in text
    assert appeals.letter_pdf(facts()).startswith(b"%PDF")


def test_the_denial_gone_overturns_and_the_denial_again_upholds() -> None:
    appealed = [(2, "CO", "197")]
    # paid, or allowed to the deductible: either way no CO-197 on line 2
    assert appeals.outcome(appealed, [(2, "CO", "45", 5000), (2, "PR", "1", 11000)]) == (
        "overturned"
    )
    assert appeals.outcome(appealed, [(1, "CO", "45", 5800), (2, "CO", "197", 16000)]) == ("upheld")
    # the same reason on another line is not the appealed line's
    assert appeals.outcome(appealed, [(3, "CO", "197", 9000)]) == "overturned"
