"""One handler per segment of an 835 transaction, each reading one segment in one loop:
the header (BPR, TRN, the N1 payer and payee loops and their REF), the claims (LX, CLP,
NM1, MOA, MIA, DTM, CAS), the service lines (SVC, DTM, CAS, REF, AMT, LQ) and the
provider adjustments (PLB). reader.py says which handler reads which segment where."""

from __future__ import annotations

from runtime.x12 import X12Error
from services.remittance.x12_835.elements import (
    PLB_REASONS,
    amount,
    components,
    el,
    need,
    opt_date,
)
from services.remittance.x12_835.model import Cas, Plb
from services.remittance.x12_835.state import (
    CLAIM,
    LINE,
    Claim,
    Handler,
    Line,
    Reader,
    close_claim,
    close_line,
    open_payment,
)

_CAS_TRIPLETS = 6
_PLB_PAIRS = 6


def ignore(r: Reader, seg: list[str], n: int) -> None:
    """Segments the model does not keep (CUR, DTM*405, N3, N4, PER, TS3, TS2, QTY, ...)."""


def refuse(message: str) -> Handler:
    """A handler for a segment that cannot stand where it is."""

    def handler(r: Reader, seg: list[str], n: int) -> None:
        raise X12Error(message, segment=n, position=0)

    return handler


# --- header --------------------------------------------------------------------------


def bpr(r: Reader, seg: list[str], n: int) -> None:
    txn = r.txn
    assert txn is not None
    if r.payment is not None or txn.bpr is not None:
        raise X12Error("BPR repeated in one transaction", segment=n, position=0)
    txn.bpr, txn.bpr_n = seg, n


def trn(r: Reader, seg: list[str], n: int) -> None:
    """The first TRN before the first claim names the payment."""
    txn = r.txn
    assert txn is not None
    if txn.trn is None:
        txn.trn, txn.trn_n = seg, n


def n1(r: Reader, seg: list[str], n: int) -> None:
    """N1*PR (payer, 1000A) or N1*PE (payee, 1000B): the loop the REFs after it belong to."""
    txn = r.txn
    assert txn is not None
    if r.payment is not None:
        return
    ent = el(seg, 1)
    txn.section = ent
    if ent == "PR":
        txn.payer_name = el(seg, 2) or None
        if el(seg, 3) == "XV":
            txn.payer_id = el(seg, 4) or None
    elif ent == "PE":
        txn.payee_name = el(seg, 2) or None
        if el(seg, 3) == "XX":
            txn.payee_npi = el(seg, 4) or None
        elif el(seg, 3) == "FI":
            txn.payee_tax_id = el(seg, 4) or None


def ref_header(r: Reader, seg: list[str], n: int) -> None:
    """REF*2U: the payer's id (1000A); REF*TJ: the payee's tax id (1000B)."""
    txn = r.txn
    assert txn is not None
    if txn.section == "PR" and el(seg, 1) == "2U":
        txn.payer_id = el(seg, 2) or None
    elif txn.section == "PE" and el(seg, 1) == "TJ":
        txn.payee_tax_id = el(seg, 2) or None


# --- claims ----------------------------------------------------------------------------


def lx(r: Reader, seg: list[str], n: int) -> None:
    """A header number (2000) ends the claim before it."""
    if r.payment is None:
        open_payment(r, n, "LX")
    close_claim(r)


def clp(r: Reader, seg: list[str], n: int) -> None:
    if r.payment is None:
        open_payment(r, n, "CLP")
    close_claim(r)
    c = r.claim = Claim(seg, n)
    r.adjustments = c.adjustments
    r.table, r.otherwise = r.tables[CLAIM]  # r.enter(CLAIM), inlined: once per claim or line


def nm1(r: Reader, seg: list[str], n: int) -> None:
    """NM1*QC: the patient's last and first name and member id; NM1*TT: the crossover
    carrier (the payer this one forwarded the claim to)."""
    claim = r.claim
    assert claim is not None
    entity = el(seg, 1)
    if entity == "QC":
        claim.names = (el(seg, 3) or None, el(seg, 4) or None, el(seg, 9) or None)
    elif entity == "TT":
        claim.crossover = el(seg, 3) or el(seg, 9) or "UNNAMED"


def moa(r: Reader, seg: list[str], n: int) -> None:
    """Outpatient adjudication: its remark codes (MOA03-MOA07) are the claim's."""
    claim = r.claim
    assert claim is not None
    claim.remarks.extend(x for x in seg[3:8] if x)


def mia(r: Reader, seg: list[str], n: int) -> None:
    """Inpatient adjudication: its remark codes (MIA05, MIA20-MIA24) are the claim's."""
    claim = r.claim
    assert claim is not None
    claim.remarks.extend(x for k, x in enumerate(seg) if x and (k == 5 or 20 <= k <= 24))


def dtm_claim(r: Reader, seg: list[str], n: int) -> None:
    """DTM*232 and DTM*233: the claim's statement period."""
    claim = r.claim
    assert claim is not None
    qual = el(seg, 1)
    if qual == "232":
        claim.dates[0] = opt_date(seg, 2, n, r.warnings)
    elif qual == "233":
        claim.dates[1] = opt_date(seg, 2, n, r.warnings)


def cas(r: Reader, seg: list[str], n: int) -> None:
    """Up to six reason/amount/quantity triplets of one adjustment group, for the open
    service line, else the open claim."""
    into = r.adjustments
    group = need(seg, 1, n)
    size = len(seg)
    for i in range(_CAS_TRIPLETS):
        base = 2 + 3 * i
        if base >= size or not seg[base]:
            if i == 0:
                raise X12Error("CAS02 is missing", segment=n, position=2)
            if base + 1 < size and seg[base + 1]:
                raise X12Error(
                    f"CAS{base + 1:02d} has no reason code", segment=n, position=base + 1
                )
            continue
        qty = seg[base + 2] if base + 2 < size and seg[base + 2] else None
        into.append(Cas(group, seg[base], amount(seg, base + 1, n, r.warnings), qty))


# --- service lines ---------------------------------------------------------------------


def svc(r: Reader, seg: list[str], n: int) -> None:
    close_line(r)
    ln = r.line = Line(seg, n)
    r.adjustments = ln.adjustments
    r.table, r.otherwise = r.tables[LINE]  # r.enter(LINE), inlined: once per claim or line


def dtm_line(r: Reader, seg: list[str], n: int) -> None:
    """DTM*472 or DTM*150: the service date (or period start); DTM*151 its end."""
    line = r.line
    assert line is not None
    qual = el(seg, 1)
    if qual in ("472", "150"):
        line.dates[0] = opt_date(seg, 2, n, r.warnings)
    elif qual == "151":
        line.dates[1] = opt_date(seg, 2, n, r.warnings)


def ref_line(r: Reader, seg: list[str], n: int) -> None:
    """REF*6R: our line item control number."""
    line = r.line
    assert line is not None
    if el(seg, 1) == "6R":
        line.control = el(seg, 2) or None


def amt_line(r: Reader, seg: list[str], n: int) -> None:
    """AMT*B6: the allowed amount."""
    line = r.line
    assert line is not None
    if el(seg, 1) == "B6":
        line.allowed = amount(seg, 2, n, r.warnings)


def lq_line(r: Reader, seg: list[str], n: int) -> None:
    """LQ*HE: a remittance advice remark code."""
    line = r.line
    assert line is not None
    if el(seg, 1) == "HE":
        line.remarks.append(need(seg, 2, n))


# --- provider adjustments -----------------------------------------------------------


def plb(r: Reader, seg: list[str], n: int) -> None:
    """Up to six reason:reference/amount pairs for one provider and fiscal period."""
    if r.payment is None:
        open_payment(r, n, "PLB")
    close_claim(r)
    txn = r.txn
    assert txn is not None
    provider = need(seg, 1, n)
    fiscal = opt_date(seg, 2, n, r.warnings)
    size = len(seg)
    for j in range(_PLB_PAIRS):
        pos = 3 + 2 * j
        if pos >= size or not seg[pos]:
            if j == 0:
                raise X12Error("PLB03 is missing", segment=n, position=3)
            continue
        parts = components(seg, pos, n, r.comp, r.warnings, PLB_REASONS)
        reason, ref = parts[0], r.comp.join(parts[1:])
        if not reason:
            raise X12Error(f"PLB{pos:02d} has no reason code", segment=n, position=pos)
        r.plbs.append(
            Plb(
                provider,
                fiscal,
                reason,
                ref or None,
                amount(seg, pos + 1, n, r.warnings),
                txn.index,
                n,
            )
        )
