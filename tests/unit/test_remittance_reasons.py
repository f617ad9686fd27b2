"""The words and actions a denied line's work item carries (issue 29 part 2)."""

from __future__ import annotations

import pytest

from services.remittance.domain.adjudication import (
    APPEALABLE,
    CORRECTABLE,
    NOT_A_DENIAL,
    WRITE_OFF,
)
from services.remittance.domain.reasons import carc_words, rarc_words, suggested_action

pytestmark = pytest.mark.unit


def test_every_carc_the_sorting_knows_has_words_on_file() -> None:
    missing = sorted(
        c
        for c in CORRECTABLE | APPEALABLE | WRITE_OFF | NOT_A_DENIAL
        if carc_words(c).endswith("(no words on file)")
    )
    assert missing == []


def test_every_remark_the_simulated_payers_send_has_words_on_file() -> None:
    sent = ["M15", "M62", "M76", "MA130", "MA18", "N115", "N130", "N89"]
    assert [w for w in rarc_words(sent) if w.endswith("no words on file")] == []


def test_an_unknown_code_is_named_not_guessed() -> None:
    assert carc_words("Z9") == "reason Z9 (no words on file)"
    assert rarc_words(["N999"]) == ["N999: no words on file"]


def test_the_action_is_the_carcs_own_else_its_categorys() -> None:
    assert "REF*G1" in suggested_action("appealable", "197")
    assert suggested_action("appealable", "50").startswith("appeal the line")
    assert "frequency 7" in suggested_action("correctable", "4")
    assert suggested_action("write_off", "29").startswith("write the amount off")
    assert suggested_action("patient_responsibility", "204").startswith("bill the patient")
