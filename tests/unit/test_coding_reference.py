"""The coding reference tables a practice can replace: the medical-necessity table and
the payer list (files named by RCM_CODING_NECESSITY_FILE / RCM_CODING_PAYERS_FILE), and
the NPI check digit. Whole-claim behaviour of every rule: test_coding_cases.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.events import ClaimCoded
from services.coding import reference
from services.coding.config import CodingSettings, load_reference_files
from services.coding.edits.identifiers import npi_is_valid
from services.coding.scrub import scrub
from tests.coding_claims import checked_claim, held_claim, make_encounter, make_line

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _bundled_tables() -> Iterator[None]:
    reference.restore_defaults()
    yield
    reference.restore_defaults()


def _a1c_for(dx: str) -> object:
    enc = make_encounter(
        diagnoses=[dx], lines=[make_line("99213", [dx]), make_line("83036", [dx])], mdm="low"
    )
    return scrub(checked_claim(enc))


def test_a_loaded_necessity_table_replaces_the_default(tmp_path: Path) -> None:
    # The bundled default accepts an HbA1c for type 2 diabetes ...
    assert isinstance(_a1c_for("E11.9"), ClaimCoded)
    table = tmp_path / "lcd.csv"
    table.write_text(
        "procedure_code,dx_low,dx_high,source\n83036,R73.03,,LCD L99999 (test)\n",
        encoding="utf-8",
    )
    load_reference_files(CodingSettings(necessity_file=table))
    # ... the practice's table names only prediabetes: diabetes no longer supports it.
    held = _a1c_for("E11.9")
    assert not isinstance(held, ClaimCoded)
    assert [(r.code, r.message) for r in held.reasons] == [
        (
            "DX-NECESSITY",
            "line 2: '83036' points at 'E11.9', none of which supports it in the "
            "medical-necessity table (LCD L99999 (test))",
        )
    ]
    assert isinstance(_a1c_for("R73.03"), ClaimCoded)
    assert reference.necessity_source() == str(table)


def test_a_malformed_necessity_table_is_refused_naming_the_file(tmp_path: Path) -> None:
    table = tmp_path / "bad.csv"
    table.write_text("procedure_code,dx_low,dx_high,source\n8303,E11,,x\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.csv: bad row for '8303'"):
        reference.load_necessity_file(table)
    assert reference.necessity_source().startswith("bundled default")


def test_a_loaded_payer_list_decides_which_payer_ids_are_known(tmp_path: Path) -> None:
    enc = make_encounter(diagnoses=["I10"], lines=[make_line("99214", ["I10"])])
    assert isinstance(scrub(checked_claim(enc)), ClaimCoded)  # PPO01 is a bundled payer
    payers = tmp_path / "payers.csv"
    payers.write_text("payer_id,name\nACME1,ACME HEALTH PLAN\n", encoding="utf-8")
    load_reference_files(CodingSettings(payers_file=payers))
    held = held_claim(enc)
    assert [r.code for r in held.reasons] == ["PAYER-UNKNOWN"]
    assert f"payer id 'PPO01' is not in the payer list ({payers})" == held.reasons[0].message


@pytest.mark.parametrize(
    ("npi", "valid"),
    [
        ("1234567893", True),  # CMS's worked example
        ("1234567890", False),
        ("1245319599", True),
        ("1245319598", False),
        ("2234567890", False),
        ("0234567893", False),  # first digit must be 1 or 2
        ("123456789", False),
    ],
)
def test_npi_check_digit(npi: str, valid: bool) -> None:
    assert npi_is_valid(npi) is valid
