"""Where the 835 reader stands: the loop it is in (which dispatch table reads the next
segment), and the transaction, claim and service line being read, each frozen into the
model when it ends.

A claim (2100) and a line (2110) are kept as their raw CLP and SVC segments while their
CAS, DTM, REF, AMT and LQ arrive, and are read when they end: a bad CLP03 is reported
when its claim closes, after any error in the segments that follow it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from runtime.x12 import Warnings, X12Error
from services.remittance.x12_835.elements import (
    SVC_QUALIFIERS,
    amount,
    components,
    el,
    need,
    opt_amount,
    opt_date,
    to_cents,
)
from services.remittance.x12_835.model import Amount, Cas, Payment, Plb, RemitClaim, RemitLine

#: The loops a segment is read in: between transactions, a transaction's header (or
#: between its claims), a 2100 claim, a 2110 service line.
ENVELOPE, HEADER, CLAIM, LINE = range(4)

Handler = Callable[["Reader", list[str], int], None]
#: Per loop: the handler of each segment id, and the handler of any other id.
Tables = tuple[tuple[dict[str, Handler], Handler], ...]


class Line:
    """The 2110 service line being read."""

    __slots__ = ("adjustments", "allowed", "control", "dates", "n", "remarks", "svc")

    def __init__(self, svc: list[str], n: int) -> None:
        self.svc = svc
        self.n = n
        self.adjustments: list[Cas] = []
        self.remarks: list[str] = []
        self.allowed: Amount | None = None
        self.control: str | None = None
        self.dates: list[dt.date | None] = [None, None]


class Claim:
    """The 2100 claim being read."""

    __slots__ = ("adjustments", "clp", "crossover", "dates", "lines", "n", "names", "remarks")

    def __init__(self, clp: list[str], n: int) -> None:
        self.clp = clp
        self.n = n
        self.adjustments: list[Cas] = []
        self.remarks: list[str] = []
        self.lines: list[RemitLine] = []
        self.names: tuple[str | None, str | None, str | None] = (None, None, None)
        self.dates: list[dt.date | None] = [None, None]
        self.crossover: str | None = None  # NM1*TT: the payer the claim was crossed over to


class Txn:
    """The ST/SE transaction being read: its header until the payment opens."""

    __slots__ = (
        "bpr",
        "bpr_n",
        "control",
        "index",
        "n",
        "payee_name",
        "payee_npi",
        "payee_tax_id",
        "payer_id",
        "payer_name",
        "section",
        "trn",
        "trn_n",
    )

    def __init__(self, control: str, index: int, n: int) -> None:
        self.control = control
        self.index = index
        self.n = n
        self.bpr: list[str] | None = None
        self.bpr_n = 0
        self.trn: list[str] | None = None
        self.trn_n = 0
        self.payer_name: str | None = None
        self.payer_id: str | None = None
        self.payee_name: str | None = None
        self.payee_npi: str | None = None
        self.payee_tax_id: str | None = None
        self.section = ""  # the N1 loop being read: PR (payer) or PE (payee)


class Reader:
    """Everything read so far, and what is open."""

    __slots__ = (
        "adjustments",
        "claim",
        "claims",
        "comp",
        "groups",
        "gs",
        "interchanges",
        "isa",
        "line",
        "otherwise",
        "payment",
        "payments",
        "plbs",
        "sink",
        "table",
        "tables",
        "traces",
        "txn",
        "txns",
        "warnings",
    )

    def __init__(self, comp: str, tables: Tables, warnings: Warnings | None = None) -> None:
        self.comp = comp
        self.tables = tables
        self.warnings = Warnings() if warnings is None else warnings
        #: (ISA06 sender, ISA13) and (TRN02, TRN03) seen in this file: each once
        self.interchanges: dict[tuple[str, str], int] = {}
        self.traces: dict[tuple[str, str], int] = {}
        self.payments: list[Payment] = []
        self.claims: list[RemitClaim] = []
        #: where each claim goes when it ends: kept, or handed on (a large file's claims)
        self.sink: Callable[[RemitClaim], None] = self.claims.append
        self.plbs: list[Plb] = []
        self.isa: list[str] | None = None
        self.gs: list[str] | None = None
        self.groups = 0
        self.txns = 0
        self.txn: Txn | None = None
        self.payment: Payment | None = None
        self.claim: Claim | None = None
        self.line: Line | None = None
        #: where a CAS goes: the adjustments of the open line, else of the open claim
        self.adjustments: list[Cas] = []
        self.table, self.otherwise = tables[ENVELOPE]

    def enter(self, loop: int) -> None:
        """The next segment is read by the table of ``loop``."""
        self.table, self.otherwise = self.tables[loop]


def open_payment(r: Reader, n: int, sid: str) -> None:
    """The transaction header is complete once the first LX/CLP/PLB/SE arrives."""
    t = r.txn
    assert t is not None
    if t.bpr is None:
        raise X12Error(f"{sid} before BPR in transaction {t.control}", segment=n, position=0)
    if t.trn is None:
        raise X12Error(f"{sid} before TRN in transaction {t.control}", segment=n, position=0)
    bpr, bn = t.bpr, t.bpr_n
    trace = need(t.trn, 2, t.trn_n)
    key = (trace, el(t.trn, 3))
    if key in r.traces:
        raise X12Error(
            f"TRN02 {trace[:50]!r} repeats the payment trace of segment {r.traces[key]}: "
            "one payment in one file twice would post twice",
            segment=t.trn_n,
            position=2,
        )
    r.traces[key] = t.trn_n
    p = Payment(
        amount=amount(bpr, 2, bn, r.warnings),
        credit_debit=need(bpr, 3, bn),
        method=need(bpr, 4, bn),
        date=opt_date(bpr, 16, bn, r.warnings),
        trace_number=trace,
        payer_id=t.payer_id or (el(t.trn, 3) or None),
        payer_name=t.payer_name,
        payee_name=t.payee_name,
        payee_npi=t.payee_npi,
        payee_tax_id=t.payee_tax_id,
        control_number=t.control,
        segment=bn,
    )
    r.payments.append(p)
    r.payment = p


def close_line(r: Reader) -> None:
    """The open service line, if any, read into a RemitLine of the open claim."""
    ln = r.line
    if ln is None:
        return
    r.line = None
    claim = r.claim
    assert claim is not None
    comp, w = r.comp, r.warnings
    svc, n = ln.svc, ln.n
    size = len(svc)
    need(svc, 1, n)
    proc = components(svc, 1, n, comp, w, SVC_QUALIFIERS)
    if len(proc) < 2 or not proc[0] or not proc[1]:
        raise X12Error(
            f"SVC01 is not a qualifier{comp}procedure composite: {svc[1][:40]!r}",
            segment=n,
            position=1,
        )
    units = svc[5] if size > 5 and svc[5] else "1"
    if units != "1" and to_cents(units) is None:
        raise X12Error(f"SVC05 is not a quantity: {units[:40]!r}", segment=n, position=5)
    orig = components(svc, 6, n, comp, w, SVC_QUALIFIERS) if size > 6 and svc[6] else None
    # positional: keyword construction of a 16-field NamedTuple costs 4x more
    claim.lines.append(
        RemitLine(
            proc[1],
            proc[0],
            tuple([m for m in proc[2:6] if m]) if len(proc) > 2 else (),
            amount(svc, 2, n, w),
            amount(svc, 3, n, w),
            ln.allowed,
            units,
            tuple(ln.adjustments),
            tuple(ln.remarks),
            ln.dates[0],
            ln.dates[1],
            (svc[4] or None) if size > 4 else None,
            (orig[1] or None) if orig and len(orig) > 1 else None,
            tuple([m for m in orig[2:6] if m]) if orig else (),
            ln.control,
            n,
        )
    )


def close_claim(r: Reader) -> None:
    """The open claim, if any, with its last line, read into a RemitClaim; back to the
    transaction's loop."""
    c = r.claim
    if c is None:
        return
    if r.line is not None:
        close_line(r)
    r.claim = None
    r.table, r.otherwise = r.tables[HEADER]  # r.enter(HEADER), inlined: once per claim or line
    clp, n = c.clp, c.n
    size = len(clp)
    payment, txn = r.payment, r.txn
    assert payment is not None
    assert txn is not None
    names = c.names
    w = r.warnings
    r.sink(
        RemitClaim(
            need(clp, 1, n),
            need(clp, 2, n),
            amount(clp, 3, n, w),
            amount(clp, 4, n, w),
            opt_amount(clp, 5, n, w),
            (clp[6] or None) if size > 6 else None,
            (clp[7] or None) if size > 7 else None,
            (clp[9] or None) if size > 9 else None,
            names[0],
            names[1],
            names[2],
            tuple(c.adjustments),
            tuple(c.remarks),
            c.dates[0],
            c.dates[1],
            tuple(c.lines),
            payment.trace_number,
            payment.payer_id,
            payment.date,
            txn.index,
            n,
            c.crossover,
            (clp[8] or None) if size > 8 else None,
        )
    )
