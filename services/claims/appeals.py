"""An appeal of a denied or reduced claim, pure: its deadline, when the payer's answer is
due, its letter (PDF, from a template per denial category, with the claim's facts), and
what the payer's reprocessing 835 decided. No I/O, no clock.

States: drafted -> sent -> decided (outcome ``overturned`` when the payer's next answer
no longer denies the appealed lines for the reasons appealed, else ``upheld``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from fpdf import FPDF
from fpdf.enums import XPos, YPos

DRAFTED, SENT, DECIDED = "drafted", "sent", "decided"
OVERTURNED, UPHELD = "overturned", "upheld"

#: What the letter asks for, per denial category (the first paragraph after the facts).
TEMPLATES = {
    "appealable": (
        "Request for redetermination",
        "We ask you to reconsider the denial of the service(s) below. The service was "
        "medically necessary and was provided as documented in the enclosed records; "
        "where an authorization was required, the enclosed records show it was obtained "
        "or that the service could not wait for one.",
    ),
    "correctable": (
        "Request for reopening",
        "The service(s) below were denied for a reason the enclosed corrected information "
        "resolves. We ask you to reopen the claim and process the service(s) as corrected.",
    ),
    "write_off": (
        "Request for reconsideration",
        "We ask you to reconsider the adjustment of the service(s) below for the reasons "
        "and with the documents enclosed.",
    ),
}


@dataclass(frozen=True, slots=True)
class Line:
    line_number: int
    procedure_code: str | None
    cas_group: str
    reason: str
    amount_cents: int


@dataclass(frozen=True, slots=True)
class Facts:
    """What the letter states about the claim (no patient name or member id: the payer
    finds the claim by its own number and ours)."""

    appeal_id: str
    claim_id: str
    patient_control_number: str
    payer_id: str
    payer_name: str
    payer_claim_number: str
    date_of_service: dt.date | None
    determination_date: dt.date
    deadline: dt.date
    charge_cents: int
    paid_cents: int
    category: str
    lines: tuple[Line, ...]
    attachments: tuple[str, ...]
    note: str = ""


def deadline(determination: dt.date, appeal_days: int) -> dt.date:
    """The last day the payer takes the appeal (Medicare redetermination: 120 days from
    the initial determination)."""
    return determination + dt.timedelta(days=appeal_days)


def answer_due(sent: dt.date, answer_days: int) -> dt.date:
    return sent + dt.timedelta(days=answer_days)


def category_of(categories: list[str]) -> str:
    """The letter's template: an appealable line makes it a redetermination request."""
    for cat in ("appealable", "correctable"):
        if cat in categories:
            return cat
    return "write_off"


#: A denial: (line number, 0 for the claim level; CAS group; CARC).
Denied = tuple[int, str, str]


def outcome(appealed: Iterable[Denied], answer: Iterable[tuple[int, str, str, int]]) -> str:
    """Overturned when the payer's new answer no longer adjusts any appealed line for
    the reason appealed (the line may still go to a deductible: the denial is gone),
    else upheld. ``answer``: (line number, group, CARC, amount) of each of its CAS."""
    still = {(n, g, r) for n, g, r, amount in answer if amount > 0}
    return UPHELD if any(d in still for d in appealed) else OVERTURNED


def usd(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"


def letter_lines(f: Facts) -> list[str]:
    """The letter as text, paragraph by paragraph (what the PDF prints)."""
    title, ask = TEMPLATES.get(f.category, TEMPLATES["write_off"])
    dos = f.date_of_service.isoformat() if f.date_of_service else "see claim"
    out = [
        f"{title}: appeal {f.appeal_id}",
        f"To: {f.payer_name} (payer {f.payer_id})",
        f"Payer claim number (ICN): {f.payer_claim_number}",
        f"Our claim number (CLM01): {f.patient_control_number}",
        f"Date of service: {dos}",
        f"Initial determination: {f.determination_date.isoformat()};"
        f" filed within the appeal period ending {f.deadline.isoformat()}",
        f"Billed {usd(f.charge_cents)}; paid {usd(f.paid_cents)}",
        ask,
        "Service(s) appealed:",
    ]
    for ln in f.lines:
        where = "claim level" if ln.line_number == 0 else f"line {ln.line_number}"
        code = f" CPT/HCPCS {ln.procedure_code}" if ln.procedure_code else ""
        out.append(f"- {where}{code}: adjusted {ln.cas_group}-{ln.reason}, {usd(ln.amount_cents)}")
    out.append("Enclosed: " + ("; ".join(f.attachments) if f.attachments else "none"))
    if f.note:
        out.append(f"Note: {f.note}")
    return out


def letter_pdf(f: Facts) -> bytes:
    """The letter as a one-or-more page PDF (core fonts: Latin-1, other characters
    replaced)."""
    pdf = FPDF(format="Letter")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()
    lines = letter_lines(f)
    pdf.set_font("Helvetica", style="B", size=14)
    pdf.multi_cell(0, 8, _latin1(lines[0]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_font("Helvetica", size=10)
    for text in lines[1:]:
        pdf.multi_cell(0, 5.5, _latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)
    return bytes(pdf.output())


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")
