"""The statement PDF's tables, drawn with fpdf2's plain ``cell`` (render.py).

fpdf2's ``FPDF.table`` runs its line breaker over every cell twice (once to measure the
row, once to draw it) and builds a style per cell: 89 % of the statements service's CPU in
a burst (``rcm bench``). Here a cell is measured by its string width, and only a text too
wide for its column goes through ``multi_cell``. The page looks as ``FPDF.table`` drew it:
the same column widths, padding, line height, bold shaded heading, borders, text
vertically centred; a row that does not fit goes to the next page under the heading
again, and the heading never stays alone at the foot of a page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fpdf import FPDF
from fpdf.enums import Align, MethodReturnValue
from fpdf.util import Padding

HEADING_FILL = (225, 225, 225)


@dataclass(frozen=True)
class Grid:
    """Where a table goes and how its cells look."""

    x: float
    widths: Sequence[float]
    aligns: Sequence[str]
    line_height: float
    padding: float  # above and below the text, and either side of it
    inset: float  # either side of the text: the padding, or fpdf's cell margin without one
    border: bool = True


def grid(
    pdf: FPDF,
    fractions: Sequence[float],
    aligns: Sequence[str],
    *,
    line_height: float,
    padding: float = 0.0,
    width: float | None = None,
    right: bool = False,
    border: bool = True,
) -> Grid:
    """Columns sharing ``width`` (the page's text width) by ``fractions``; ``right``: the
    table against the right margin, else at the left one."""
    w = pdf.epw if width is None else width
    total = float(sum(fractions))
    x = pdf.w - pdf.r_margin - w if right else pdf.l_margin
    widths = [w * f / total for f in fractions]
    return Grid(x, widths, aligns, line_height, padding, padding or pdf.c_margin, border)


def _lines(pdf: FPDF, g: Grid, width: float, text: str) -> list[str]:
    """The lines ``text`` takes in a column: itself when it fits (the common case, no
    line breaking), else as ``multi_cell`` breaks it."""
    if not text or pdf.get_string_width(text) <= width - 2 * g.inset:
        return [text]
    lines = pdf.multi_cell(
        width,
        g.line_height,
        text,
        padding=Padding(top=0, right=g.inset, bottom=0, left=g.inset),
        dry_run=True,
        output=MethodReturnValue.LINES,
    )
    assert isinstance(lines, list)
    return [str(x) for x in lines]


def _measure(pdf: FPDF, g: Grid, cells: Sequence[str]) -> tuple[float, list[list[str]]]:
    laid = [_lines(pdf, g, w, c) for w, c in zip(g.widths, cells, strict=True)]
    return max(len(x) for x in laid) * g.line_height + 2 * g.padding, laid


def _draw(pdf: FPDF, g: Grid, laid: Sequence[Sequence[str]], height: float, fill: bool) -> None:
    y = pdf.y
    x = g.x
    for w, lines, align in zip(g.widths, laid, g.aligns, strict=True):
        if g.border or fill:
            pdf.rect(x, y, w, height, style=("DF" if g.border else "F") if fill else "D")
        top = y + (height - len(lines) * g.line_height) / 2
        for n, text in enumerate(lines):
            if text:
                pdf.set_xy(x + g.inset, top + n * g.line_height)
                pdf.cell(w - 2 * g.inset, g.line_height, text, align=Align.coerce(align))
        x += w
    pdf.set_xy(pdf.l_margin, y + height)


def table(pdf: FPDF, g: Grid, heading: Sequence[str] | None, rows: Sequence[Sequence[str]]) -> None:
    """Draws the rows under ``heading`` (bold, shaded; None: no heading), each row as tall
    as its tallest cell, breaking pages as ``FPDF.table`` does."""
    style, size = pdf.font_style, pdf.font_size_pt
    c_margin, pdf.c_margin = pdf.c_margin, 0.0  # the inset is the cell's only margin
    try:
        head: tuple[float, list[list[str]]] | None = None
        if heading is not None:
            pdf.set_font(style="B" + style.replace("B", ""))
            head = _measure(pdf, g, heading)
            pdf.set_font(style=style, size=size)
        body = [_measure(pdf, g, r) for r in rows]
        first = (head[0] if head else 0.0) + (body[0][0] if body else 0.0)
        if pdf.will_page_break(first):
            pdf.add_page()  # a heading is never left alone at the foot of a page
        if head is not None:
            _heading(pdf, g, head, style, size)
        for height, laid in body:
            if pdf.will_page_break(height):
                pdf.add_page()
                if head is not None:
                    _heading(pdf, g, head, style, size)
            _draw(pdf, g, laid, height, fill=False)
    finally:
        pdf.c_margin = c_margin


def _heading(
    pdf: FPDF, g: Grid, head: tuple[float, list[list[str]]], style: str, size: float
) -> None:
    pdf.set_font(style="B" + style.replace("B", ""))
    pdf.set_fill_color(*HEADING_FILL)
    _draw(pdf, g, head[1], head[0], fill=True)
    pdf.set_font(style=style, size=size)
