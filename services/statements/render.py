"""A statement document (``domain.build_statement``) as PDF, HTML and JSON. No I/O but
``write_documents``.

The PDF uses the PDF core fonts (Helvetica), which cover Latin-1; any other character
in a name is replaced, never dropped silently into a broken file.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

from services.statements import pdf_table
from services.statements.domain import BUCKET_LABELS, money
from services.statements.practice import city_line

MODIFIER_SEP = "-"
HEADINGS = ["Date", "Service", "Description", "Charge", "Ins. paid", "Adjustments"]
AGING_HEADINGS = {b: f"{b} days" for b in BUCKET_LABELS} | {"120+": "Over 120 days"}


def _latin1(text: object) -> str:
    return str(text).encode("latin-1", "replace").decode("latin-1")


def _service(line: Mapping[str, Any]) -> str:
    code = str(line["code"])
    mods = line.get("modifiers") or []
    units = int(line.get("units") or 1)
    text = MODIFIER_SEP.join([code, *mods])
    return f"{text} x{units}" if units > 1 else text


def _address_lines(address: Mapping[str, Any]) -> list[str]:
    if not address:
        return []
    out = [str(address.get("line1", ""))]
    if address.get("line2"):
        out.append(str(address["line2"]))
    out.append(city_line(address))
    return out


def claim_summary_rows(claim: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = [
        ("Total charges", money(claim["charges_cents"])),
        ("Paid by your insurance", money(-claim["insurance_paid_cents"])),
        ("Adjustments and discounts", money(-claim["adjustments_cents"])),
    ]
    if claim["patient_paid_cents"]:
        rows.append(("Your payments and credits", money(-claim["patient_paid_cents"])))
    rows.append(("You owe for this visit", money(claim["balance_cents"])))
    return rows


# --- PDF ------------------------------------------------------------------------------


class _Statement(FPDF):
    def __init__(self, doc: Mapping[str, Any]) -> None:
        super().__init__(orientation="P", unit="mm", format="Letter")
        self.doc = doc
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(15, 15, 15)
        self.set_title(_latin1(f"Statement {doc['statement_id']}"))
        self.set_author(_latin1(doc["practice"]["name"]))

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font("Helvetica", "I", 8)
        self.cell(
            0,
            5,
            _latin1(
                f"Statement {self.doc['statement_id']}  -  page {self.page_no()}/{{nb}}"
                + (f"  -  questions: {phone}" if (phone := self.doc["practice"]["phone"]) else "")
            ),
            align=Align.C,
        )


def _table(
    pdf: FPDF,
    fractions: Sequence[float],
    heading: Sequence[str],
    rows: Sequence[Sequence[str]],
    aligns: Sequence[str],
    *,
    line_height: float = 4.5,
) -> None:
    """A bordered table across the page: long text wraps inside its cell, never cut, and
    a table that runs over a page repeats its heading (pdf_table.py)."""
    g = pdf_table.grid(pdf, fractions, aligns, line_height=line_height, padding=0.8)
    pdf_table.table(pdf, g, [_latin1(c) for c in heading], [[_latin1(c) for c in r] for r in rows])


def to_pdf(doc: Mapping[str, Any]) -> bytes:
    pdf = _Statement(doc)
    pdf.alias_nb_pages()
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    _pdf_header(pdf, doc, width)
    _pdf_bill_to(pdf, doc)
    for c in doc["claims"]:
        _pdf_visit(pdf, c, width)
    _pdf_account(pdf, doc, width)
    _pdf_stub(pdf, doc, width)
    return bytes(pdf.output())


def _line(
    pdf: FPDF, text: str, size: float = 10, style: str = "", h: float = 5, w: float = 0
) -> None:
    """A paragraph that wraps within ``w`` (0: to the right margin)."""
    pdf.set_font("Helvetica", style, size)
    _paragraph(pdf, _latin1(text), h, w)


def _paragraph(pdf: FPDF, text: str, h: float, w: float = 0) -> None:
    """``multi_cell`` as it lays out ``text``, without its line breaker when the text
    fits on one line (nearly always)."""
    room = (w or pdf.w - pdf.r_margin - pdf.x) - 2 * pdf.c_margin
    if pdf.get_string_width(text) <= room:
        pdf.cell(w, h, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    else:
        pdf.multi_cell(w, h, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def practice_lines(p: Mapping[str, Any]) -> list[str]:
    """The practice's address and who to call, as the header shows them."""
    out = [x for x in (p.get("street"), p.get("city_line")) if x]
    if p.get("phone"):
        who = f"{p['billing_contact']}, " if p.get("billing_contact") else ""
        out.append(f"Billing questions: {who}{p['phone']}")
    return out


def _pdf_header(pdf: FPDF, doc: Mapping[str, Any], width: float) -> None:
    """The practice on the left, the statement facts on the right; long names wrap."""
    p = doc["practice"]
    top = pdf.get_y()
    logo = p.get("logo")
    if logo and Path(logo).is_file():
        pdf.image(logo, h=14)
    _line(pdf, p["name"], 15, "B", 7, w=width * 0.55)
    for text in practice_lines(p):
        _line(pdf, text, w=width * 0.55)
    left_bottom = pdf.get_y()
    pdf.set_xy(pdf.l_margin + width * 0.58, top)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(
        width * 0.42, 7, "PATIENT STATEMENT", align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.set_font("Helvetica", "", 9)
    facts = [
        ("Statement", doc["statement_id"]),
        ("Statement date", doc["statement_date"]),
        ("Account", doc["guarantor"]["account"]),
        ("Due date", doc["due_date"]),
        ("Amount due", money(doc["amount_due_cents"])),
    ]
    g = pdf_table.grid(
        pdf,
        (0.38, 0.62),
        ("LEFT", "RIGHT"),
        line_height=5,
        width=width * 0.42,
        right=True,
        border=False,
    )
    pdf_table.table(pdf, g, None, [[_latin1(k), _latin1(v)] for k, v in facts])
    pdf.set_y(max(left_bottom, pdf.get_y()))
    pdf.ln(4)


def _pdf_bill_to(pdf: FPDF, doc: Mapping[str, Any]) -> None:
    """Who the bill is for, and the message, boxed."""
    g = doc["guarantor"]
    _line(pdf, "BILL TO", 8, "B", 4)
    _line(pdf, g["name"], 11, "B")
    for a in _address_lines(g.get("address") or {}):
        _line(pdf, a)
    pdf.ln(3)
    pdf.set_font("Helvetica", "B" if doc["collections"] else "", 10)
    pdf.set_fill_color(240, 240, 240)
    pdf.multi_cell(0, 5, _latin1(doc["message"]), border=1, fill=True, padding=2)
    pdf.ln(3)


_VISIT_COLUMNS = (0.12, 0.14, 0.38, 0.12, 0.12, 0.12)


def _pdf_visit(pdf: FPDF, c: Mapping[str, Any], width: float) -> None:
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(
        0,
        6,
        _latin1(
            f"Patient: {c['patient_name']}    Visit on {c['date_of_service']}"
            f"    Claim {c['claim_id']}" + ("    (self-pay)" if c["self_pay"] else "")
        ),
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_font("Helvetica", "", 8.5)
    rows = [
        [
            ln["date"],
            _service(ln),
            ln["description"] or "",
            money(ln["charge_cents"]),
            money(ln["insurance_paid_cents"]),
            money(ln["adjustments_cents"]),
        ]
        for ln in c["lines"]
    ]
    _table(pdf, _VISIT_COLUMNS, HEADINGS, rows, ("LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT"))
    pdf.ln(1)
    for label, amount in claim_summary_rows(c):
        last = label.startswith("You owe")
        pdf.set_font("Helvetica", "B" if last else "", 9)
        pdf.set_x(pdf.l_margin + width * 0.52)
        pdf.cell(width * 0.33, 5, label)
        pdf.cell(width * 0.15, 5, amount, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)


def _pdf_account(pdf: FPDF, doc: Mapping[str, Any], width: float) -> None:
    """The account's summary, its aging and how to pay."""
    t = doc["totals"]
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, "Account summary", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    summary = [
        ("Charges", money(t["charges_cents"])),
        ("Paid by insurance", money(-t["insurance_paid_cents"])),
        ("Adjustments and discounts", money(-t["adjustments_cents"])),
        ("Your payments", money(-t["patient_paid_cents"])),
    ]
    if t["credit_cents"]:
        summary.append(("Credit on your account", money(-t["credit_cents"])))
    summary.append(("AMOUNT DUE", money(doc["amount_due_cents"])))
    for label, amount in summary:
        pdf.set_font("Helvetica", "B" if label == "AMOUNT DUE" else "", 10)
        pdf.cell(width * 0.35, 5.5, label)
        pdf.cell(width * 0.2, 5.5, amount, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_font("Helvetica", "", 8.5)
    aging = [money(doc["aging"][b]) for b in BUCKET_LABELS]
    _table(pdf, [1] * 5, [AGING_HEADINGS[b] for b in BUCKET_LABELS], [aging], ["CENTER"] * 5)
    pdf.ln(3)

    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, "How to pay", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 9.5)
    for way in doc["how_to_pay"]:
        _paragraph(pdf, _latin1(f"- {way}"), 5)
    pdf.ln(4)


def _pdf_stub(pdf: FPDF, doc: Mapping[str, Any], width: float) -> None:
    """The stub to return with a check."""
    if pdf.get_y() > pdf.h - 48:
        pdf.add_page()
    pdf.set_draw_color(120, 120, 120)
    pdf.set_dash_pattern(dash=1.5, gap=1.5)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.set_dash_pattern()
    pdf.ln(2)
    _line(pdf, "Please detach and return this part with your payment.", 8, "I", 4)
    pdf.set_font("Helvetica", "", 9)
    _table(
        pdf,
        (0.2, 0.3, 0.15, 0.15, 0.2),
        ["Account", "Statement", "Due date", "Amount due", "Amount enclosed"],
        [
            [
                doc["guarantor"]["account"],
                doc["statement_id"],
                doc["due_date"],
                money(doc["amount_due_cents"]),
                "$",
            ]
        ],
        ["CENTER"] * 5,
        line_height=6,
    )


# --- HTML -----------------------------------------------------------------------------

_CSS = """
body{font-family:Helvetica,Arial,sans-serif;color:#111;max-width:50rem;margin:2rem auto;}
header{display:flex;justify-content:space-between;border-bottom:2px solid #333;}
h1{font-size:1.4rem;margin:0}h2{font-size:1.1rem}table{border-collapse:collapse;width:100%}
th,td{border:1px solid #bbb;padding:.25rem .4rem;font-size:.85rem}th{background:#e6e6e6}
td.n{text-align:right}.msg{background:#f0f0f0;border:1px solid #999;padding:.6rem}
.final{font-weight:bold;border-color:#900}.due{font-size:1.2rem;font-weight:bold}
.sum td{border:none}.stub{border-top:1px dashed #777;margin-top:2rem;padding-top:.5rem}
"""


def to_html(doc: Mapping[str, Any]) -> str:
    e = html.escape
    p, g, t = doc["practice"], doc["guarantor"], doc["totals"]
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Statement {e(doc['statement_id'])}</title><style>{_CSS}</style></head><body>",
        "<header><div>",
        f"<h1>{e(p['name'])}</h1><div>{'<br>'.join(e(x) for x in practice_lines(p))}</div></div>",
        "<table class='sum' style='width:auto'>",
        "<tr><td colspan='2'><b>PATIENT STATEMENT</b></td></tr>",
    ]
    for k, v in (
        ("Statement", doc["statement_id"]),
        ("Statement date", doc["statement_date"]),
        ("Account", g["account"]),
        ("Due date", doc["due_date"]),
    ):
        out.append(f"<tr><td>{e(k)}</td><td class='n'>{e(str(v))}</td></tr>")
    out.append(
        f"<tr><td class='due'>Amount due</td><td class='n due'>"
        f"{e(money(doc['amount_due_cents']))}</td></tr></table></header>"
    )
    addr = "<br>".join(e(a) for a in _address_lines(g.get("address") or {}))
    out.append("<main>")
    out.append(f"<p><small>BILL TO</small><br><b>{e(g['name'])}</b><br>{addr}</p>")
    cls = "msg final" if doc["collections"] else "msg"
    out.append(f"<p class='{cls}'>{e(doc['message'])}</p>")
    for c in doc["claims"]:
        out.extend(_html_visit(c))
    out.append("<h2>Account summary</h2><table class='sum' style='width:auto'>")
    rows = [
        ("Charges", t["charges_cents"]),
        ("Paid by insurance", -t["insurance_paid_cents"]),
        ("Adjustments and discounts", -t["adjustments_cents"]),
        ("Your payments", -t["patient_paid_cents"]),
    ]
    if t["credit_cents"]:
        rows.append(("Credit on your account", -t["credit_cents"]))
    for label, cents in rows:
        out.append(f"<tr><td>{e(label)}</td><td class='n'>{money(cents)}</td></tr>")
    out.append(
        f"<tr><td class='due'>AMOUNT DUE</td><td class='n due'>"
        f"{money(doc['amount_due_cents'])}</td></tr></table>"
    )
    out.append("<h2>Aging</h2><table><tr>")
    out.extend(f"<th>{e(b)} days</th>" for b in BUCKET_LABELS)
    out.append("</tr><tr>")
    out.extend(f"<td class='n'>{money(doc['aging'][b])}</td>" for b in BUCKET_LABELS)
    out.append("</tr></table><h2>How to pay</h2><ul>")
    out.extend(f"<li>{e(w)}</li>" for w in doc["how_to_pay"])
    out.append(
        f"</ul><div class='stub'><small>Please detach and return this part with your "
        f"payment.</small><br>Account {e(g['account'])} &middot; statement "
        f"{e(doc['statement_id'])} &middot; due {e(doc['due_date'])} &middot; amount due "
        f"<b>{money(doc['amount_due_cents'])}</b> &middot; amount enclosed $________</div>"
    )
    out.append("</main></body></html>\n")
    return "\n".join(out)


def _html_visit(c: Mapping[str, Any]) -> list[str]:
    e = html.escape
    out: list[str] = []
    self_pay = " (self-pay)" if c["self_pay"] else ""
    out.append(
        f"<h2>Patient: {e(c['patient_name'])} &middot; visit on {e(c['date_of_service'])}"
        f" &middot; claim {e(c['claim_id'])}{self_pay}</h2>"
    )
    out.append(
        "<table><tr><th>Date</th><th>Service</th><th>Description</th><th>Charge</th>"
        "<th>Insurance paid</th><th>Adjustments</th></tr>"
    )
    for ln in c["lines"]:
        out.append(
            f"<tr><td>{e(ln['date'])}</td><td>{e(_service(ln))}</td>"
            f"<td>{e(ln['description'] or '')}</td><td class='n'>{money(ln['charge_cents'])}</td>"
            f"<td class='n'>{money(ln['insurance_paid_cents'])}</td>"
            f"<td class='n'>{money(ln['adjustments_cents'])}</td></tr>"
        )
    out.append("</table><table class='sum'>")
    for label, amount in claim_summary_rows(c):
        b = label.startswith("You owe")
        cell = f"<b>{e(label)}</b>" if b else e(label)
        amt = f"<b>{amount}</b>" if b else amount
        out.append(f"<tr><td style='width:75%' class='n'>{cell}</td><td class='n'>{amt}</td></tr>")
    out.append("</table>")
    return out


def to_json(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, default=str) + "\n"


def write_documents(doc: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """Writes ``<statement_id>.pdf`` and ``.html`` into ``out_dir``; returns the paths.

    ``doc`` is the statement body as stored (extra keys, such as the row's columns in
    the demo, are ignored). A body stored before statements were documents (no
    ``practice``) has nothing to render: nothing is written."""
    if "practice" not in doc or "claims" not in doc:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    name = str(doc["statement_id"])
    pdf_path = out_dir / f"{name}.pdf"
    html_path = out_dir / f"{name}.html"
    pdf_path.write_bytes(to_pdf(doc))
    html_path.write_text(to_html(doc))
    return [pdf_path, html_path]
