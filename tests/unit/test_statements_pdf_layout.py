"""The statement PDF's tables (render.py, pdf_table.py) as a patient reads them: a visit
too long for a page goes on under its heading again, a heading never stands alone at the
foot of a page, and a description too long for its column wraps without losing a word."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
from pypdf import PdfReader

from services.statements import domain, render
from tests.unit.test_statements_ledger import TODAY, statement_doc

pytestmark = pytest.mark.unit

HEADING = "Date Service Description Charge Ins. paid Adjustments"
ROW = re.compile(r"^\d{4}-\d{2}-\d{2} ")


def statement(visits: int, lines: int) -> dict[str, Any]:
    claims = [
        domain.ClaimOnStatement(
            claim_id=f"C{n}",
            patient_name="Sam Doe",
            date_of_service=dt.date(2025, 3, 14),
            lines=[
                {"code": "36415", "modifiers": [], "units": 1, "charge_cents": 1200 + k}
                for k in range(lines)
            ],
            postings=[("charge", 1200 * lines), ("insurance_payment", -600 * lines)],
            first_billed_on=TODAY,
        )
        for n in range(visits)
    ]
    return statement_doc(claims, [])


def pages(doc: dict[str, Any]) -> list[list[str]]:
    reader = PdfReader(io.BytesIO(render.to_pdf(doc)))
    return [p.extract_text().splitlines() for p in reader.pages]


def test_a_visit_longer_than_a_page_repeats_its_heading_on_the_next() -> None:
    laid = pages(statement(1, 70))
    assert len(laid) >= 2
    rows = [ln for page in laid for ln in page if ROW.match(ln)]
    assert len(rows) == 70  # every line of the visit, none lost at a break
    for n, page in enumerate(laid):
        if any(ROW.match(ln) for ln in page):
            assert HEADING in page, f"page {n + 1} has rows without the heading"
    assert "$12.69" in "\n".join(laid[-2] + laid[-1])  # the visit's last line (1269 cents)


def test_a_heading_never_stands_alone_at_the_foot_of_a_page() -> None:
    for visits in range(1, 12):
        for page in pages(statement(visits, 4)):
            for i, ln in enumerate(page):
                if ln == HEADING:
                    assert i + 1 < len(page), (visits, page)
                    assert ROW.match(page[i + 1]), (visits, page)


def test_a_long_description_wraps_inside_its_cell_without_losing_a_word() -> None:
    doc = statement(1, 2)
    words = "Repair of a complicated laceration of the scalp neck hands feet and genitalia"
    doc["claims"][0]["lines"][0]["description"] = words
    shown: list[tuple[float, float, str]] = []  # (x, y, text) of each piece of text

    def seen(text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        if text.strip():
            shown.append((tm[4], tm[5], text.strip()))

    PdfReader(io.BytesIO(render.to_pdf(doc))).pages[0].extract_text(visitor_text=seen)
    start = next(i for i, s in enumerate(shown) if s[2].startswith("Repair"))
    x = shown[start][0]
    cell = []
    for piece in shown[start:]:
        if piece[2] == "Blood draw from a vein":  # the next row's
            break
        if piece[0] == x:
            cell.append(piece)
    assert len({y for _x, y, _t in cell}) >= 2  # on more than one line, one column
    assert " ".join(t for _x, _y, t in cell) == words  # every word, in order
