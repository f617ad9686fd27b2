"""X12 5010 835 (005010X221A1) reader: payer remittances to project-owned records.

A hand-written walk over :func:`runtime.x12.segments`, not x12sdk's pydantic
models: the walk is two orders of magnitude faster and reports bad text as
``X12Error`` naming the segment number, the segment id and the element position
(x12sdk raises pydantic and ``ValueError`` exceptions of its own). x12sdk is used
only in the tests, as an independent second reading.

Amounts are kept twice: integer cents for arithmetic and the decimal text exactly
as the payer wrote it (:class:`Amount`). Nothing is re-signed: a reversal
(CLP02 = 22) carries the negative amounts the payer stated, and a PLB amount keeps
its stated sign (positive reduces the payment, negative increases it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from runtime.x12 import X12Error, begin, d8_element, iter_segments

_REVERSAL = "22"
_CAS_TRIPLETS = 6
_PLB_PAIRS = 6


class Amount(NamedTuple):
    """A monetary amount: integer cents and the decimal text as stated in the file."""

    cents: int
    text: str


ZERO = Amount(0, "0")
_new = tuple.__new__  # NamedTuple construction without the Python-level __new__ frame


class Cas(NamedTuple):
    """One CAS reason/amount/quantity triplet (a CAS segment carries up to six)."""

    group: str
    reason: str
    amount: Amount
    quantity: str | None = None


@dataclass(frozen=True, slots=True)
class Payment:
    """One 835 transaction's BPR/TRN and payer/payee identification."""

    amount: Amount
    credit_debit: str
    method: str
    date: dt.date | None
    trace_number: str
    payer_id: str | None
    payer_name: str | None
    payee_name: str | None
    payee_npi: str | None
    payee_tax_id: str | None
    control_number: str
    segment: int

    @property
    def signed_cents(self) -> int:
        """BPR02 as money moving to the payee: negative on a debit (BPR03 = D)."""
        return -self.amount.cents if self.credit_debit == "D" else self.amount.cents


class RemitLine(NamedTuple):
    """One 2110 service line: SVC and its DTM, CAS, REF*6R, AMT*B6, LQ*HE."""

    procedure: str
    qualifier: str
    modifiers: tuple[str, ...]
    charge: Amount
    paid: Amount
    allowed: Amount | None
    units: str
    adjustments: tuple[Cas, ...]
    remarks: tuple[str, ...]
    service_date: dt.date | None
    service_end_date: dt.date | None
    revenue_code: str | None
    original_procedure: str | None
    original_modifiers: tuple[str, ...]
    control_number: str | None
    segment: int


class RemitClaim(NamedTuple):
    """One 2100 claim payment with its claim-level CAS and its service lines."""

    patient_control_number: str
    status_code: str
    charge: Amount
    paid: Amount
    patient_responsibility: Amount | None
    filing_indicator: str | None
    payer_claim_number: str | None
    frequency_code: str | None
    patient_last_name: str | None
    patient_first_name: str | None
    member_id: str | None
    adjustments: tuple[Cas, ...]
    remarks: tuple[str, ...]
    statement_from: dt.date | None
    statement_to: dt.date | None
    lines: tuple[RemitLine, ...]
    trace_number: str
    payer_id: str | None
    payment_date: dt.date | None
    transaction: int
    segment: int

    @property
    def is_reversal(self) -> bool:
        return self.status_code == _REVERSAL

    @property
    def all_adjustments(self) -> tuple[Cas, ...]:
        """Claim-level then line-level CAS, in file order within each."""
        out = list(self.adjustments)
        for line in self.lines:
            out.extend(line.adjustments)
        return tuple(out)

    @property
    def patient_responsibility_cents(self) -> int:
        """CLP05 when stated, else the sum of PR-group adjustments."""
        if self.patient_responsibility is not None:
            return self.patient_responsibility.cents
        return sum(a.amount.cents for a in self.all_adjustments if a.group == "PR")


@dataclass(frozen=True, slots=True)
class Plb:
    """One PLB adjustment pair. Positive reduces the payment, negative adds to it."""

    provider_id: str
    fiscal_date: dt.date | None
    reason: str
    reference: str | None
    amount: Amount
    transaction: int
    segment: int


@dataclass(frozen=True, slots=True)
class Remittance:
    payments: tuple[Payment, ...]
    claims: tuple[RemitClaim, ...]
    provider_adjustments: tuple[Plb, ...]


# --- parsing -----------------------------------------------------------------


def _amount(seg: list[str], pos: int, n: int) -> Amount:
    """A required R-type amount at element ``pos``."""
    text = seg[pos] if pos < len(seg) else ""
    if text.isascii():  # fast path: unsigned, at most two decimals
        whole, dot, frac = text.partition(".")
        if whole.isdigit():
            if not dot:
                return _new(Amount, (int(whole) * 100, text))
            if frac.isdigit():
                if len(frac) == 2:
                    return _new(Amount, (int(whole + frac), text))
                if len(frac) == 1:  # "73.6": payers drop the trailing zero
                    return _new(Amount, (int(whole + frac) * 10, text))
    cents = _to_cents(text)
    if cents is None:
        what = "is missing" if not text else f"is not a decimal amount: {text[:40]!r}"
        raise X12Error(f"{seg[0]}{pos:02d} {what}", segment=n, position=pos)
    return Amount(cents, text)


def _opt_amount(seg: list[str], pos: int, n: int) -> Amount | None:
    if pos >= len(seg) or not seg[pos]:
        return None
    return _amount(seg, pos, n)


def _to_cents(text: str) -> int | None:
    """Exact cents of an X12 R amount, or None when it is not one."""
    if not text.isascii():
        return None
    whole, dot, frac = text.partition(".")
    if whole.isdigit():  # the common case: unsigned, at most two decimals
        if not dot:
            return int(whole) * 100
        if len(frac) == 2 and frac.isdigit():
            return int(whole + frac)
    return _to_cents_slow(text)


def _to_cents_slow(text: str) -> int | None:
    if not text:
        return None
    sign = 1
    if text[0] in "+-":
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    whole, _dot, frac = text.partition(".")
    if whole and not whole.isdigit():
        return None
    if frac:
        if not frac.isdigit() or (len(frac) > 2 and frac[2:].strip("0")):
            return None
        frac = (frac + "0")[:2]
    elif not whole:
        return None
    return sign * (int(whole or "0") * 100 + int(frac or "0"))


def _date(seg: list[str], pos: int, n: int) -> dt.date | None:
    text = seg[pos] if pos < len(seg) else ""
    if not text:
        return None
    return d8_element(text, seg, pos, n)


def _el(seg: list[str], pos: int) -> str:
    return seg[pos] if pos < len(seg) else ""


def _need(seg: list[str], pos: int, n: int) -> str:
    if pos < len(seg) and seg[pos]:
        return seg[pos]
    raise X12Error(f"{seg[0]}{pos:02d} is missing", segment=n, position=pos)


def _cas(seg: list[str], n: int, into: list[Cas]) -> None:
    group = _need(seg, 1, n)
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
        into.append(Cas(group, seg[base], _amount(seg, base + 1, n), qty))


class _Claim:
    """The claim being read; frozen into a RemitClaim when it ends."""

    __slots__ = ("adjustments", "clp", "dates", "line", "lines", "n", "names", "remarks")

    def __init__(self, clp: list[str], n: int) -> None:
        self.clp = clp
        self.n = n
        self.adjustments: list[Cas] = []
        self.remarks: list[str] = []
        self.lines: list[RemitLine] = []
        self.names: tuple[str | None, str | None, str | None] = (None, None, None)
        self.dates: list[dt.date | None] = [None, None]
        self.line: _Line | None = None


class _Line:
    __slots__ = ("adjustments", "allowed", "control", "dates", "n", "remarks", "svc")

    def __init__(self, svc: list[str], n: int) -> None:
        self.svc = svc
        self.n = n
        self.adjustments: list[Cas] = []
        self.remarks: list[str] = []
        self.allowed: Amount | None = None
        self.control: str | None = None
        self.dates: list[dt.date | None] = [None, None]


class _Txn:
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
        self.section = ""


def parse_835(text: str) -> Remittance:
    """Reads every 835 transaction in every interchange of ``text``.

    Raises X12Error (and nothing else) on text that is not a well-formed 835.
    """
    head, d = begin(text)
    try:
        return _walk(iter_segments(head, d), d.component)
    except X12Error:
        raise
    except (IndexError, ValueError, TypeError, KeyError) as exc:  # pragma: no cover - net
        raise X12Error(f"unreadable 835: {exc}", segment=None) from exc


def _walk(segs: Iterable[list[str]], comp: str) -> Remittance:
    payments: list[Payment] = []
    claims: list[RemitClaim] = []
    plbs: list[Plb] = []
    isa: list[str] | None = None
    gs: list[str] | None = None
    groups = 0
    txns = 0
    txn: _Txn | None = None
    claim: _Claim | None = None
    payment: Payment | None = None

    def close_line(c: _Claim) -> None:
        ln = c.line
        if ln is None:
            return
        c.line = None
        svc, n = ln.svc, ln.n
        size = len(svc)
        proc = _need(svc, 1, n).split(comp)
        if len(proc) < 2 or not proc[0] or not proc[1]:
            raise X12Error(
                f"SVC01 is not a qualifier{comp}procedure composite: {svc[1][:40]!r}",
                segment=n,
                position=1,
            )
        units = svc[5] if size > 5 and svc[5] else "1"
        if units != "1" and _to_cents(units) is None:
            raise X12Error(f"SVC05 is not a quantity: {units[:40]!r}", segment=n, position=5)
        orig = svc[6].split(comp) if size > 6 and svc[6] else None
        # positional: keyword construction of a 16-field NamedTuple costs 4x more
        c.lines.append(
            RemitLine(
                proc[1],
                proc[0],
                tuple([m for m in proc[2:6] if m]) if len(proc) > 2 else (),
                _amount(svc, 2, n),
                _amount(svc, 3, n),
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

    def close_claim() -> None:
        nonlocal claim
        c = claim
        if c is None:
            return
        if c.line is not None:
            close_line(c)
        claim = None
        clp, n = c.clp, c.n
        size = len(clp)
        assert payment is not None
        assert txn is not None
        names = c.names
        claims.append(
            RemitClaim(
                _need(clp, 1, n),
                _need(clp, 2, n),
                _amount(clp, 3, n),
                _amount(clp, 4, n),
                _opt_amount(clp, 5, n),
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
            )
        )

    def open_payment(t: _Txn, n: int, sid: str) -> Payment:
        """The transaction header is complete once the first LX/CLP/PLB/SE arrives."""
        if t.bpr is None:
            raise X12Error(f"{sid} before BPR in transaction {t.control}", segment=n, position=0)
        if t.trn is None:
            raise X12Error(f"{sid} before TRN in transaction {t.control}", segment=n, position=0)
        bpr, bn = t.bpr, t.bpr_n
        p = Payment(
            amount=_amount(bpr, 2, bn),
            credit_debit=_need(bpr, 3, bn),
            method=_need(bpr, 4, bn),
            date=_date(bpr, 16, bn),
            trace_number=_need(t.trn, 2, t.trn_n),
            payer_id=t.payer_id or (_el(t.trn, 3) or None),
            payer_name=t.payer_name,
            payee_name=t.payee_name,
            payee_npi=t.payee_npi,
            payee_tax_id=t.payee_tax_id,
            control_number=t.control,
            segment=bn,
        )
        payments.append(p)
        return p

    n = 0
    sid = ""
    for n, seg in enumerate(segs, 1):
        sid = seg[0]
        if txn is not None and sid != "ST":
            # inside a transaction: the hot path
            if payment is None and sid in ("LX", "CLP", "PLB", "SE"):
                payment = open_payment(txn, n, sid)
            if sid == "CLP":
                close_claim()
                claim = _Claim(seg, n)
                continue
            if sid == "CAS":
                if claim is None:
                    raise X12Error("CAS outside a claim (no CLP before it)", segment=n, position=0)
                _cas(seg, n, claim.line.adjustments if claim.line else claim.adjustments)
                continue
            if sid == "SVC":
                if claim is None:
                    raise X12Error("SVC outside a claim (no CLP before it)", segment=n, position=0)
                close_line(claim)
                claim.line = _Line(seg, n)
                continue
            if sid == "DTM":
                if claim is not None:
                    qual = _el(seg, 1)
                    if claim.line is not None:
                        if qual in ("472", "150"):
                            claim.line.dates[0] = _date(seg, 2, n)
                        elif qual == "151":
                            claim.line.dates[1] = _date(seg, 2, n)
                    elif qual == "232":
                        claim.dates[0] = _date(seg, 2, n)
                    elif qual == "233":
                        claim.dates[1] = _date(seg, 2, n)
                continue
            if sid == "AMT":
                if claim is not None and claim.line is not None and _el(seg, 1) == "B6":
                    claim.line.allowed = _amount(seg, 2, n)
                continue
            if sid == "LQ":
                if claim is None or claim.line is None:
                    raise X12Error(
                        "LQ outside a service line (no SVC before it)", segment=n, position=0
                    )
                if _el(seg, 1) == "HE":
                    claim.line.remarks.append(_need(seg, 2, n))
                continue
            if sid == "REF":
                if claim is not None:
                    if claim.line is not None and _el(seg, 1) == "6R":
                        claim.line.control = _el(seg, 2) or None
                elif txn.section == "PR" and _el(seg, 1) == "2U":
                    txn.payer_id = _el(seg, 2) or None
                elif txn.section == "PE" and _el(seg, 1) == "TJ":
                    txn.payee_tax_id = _el(seg, 2) or None
                continue
            if sid == "NM1":
                if claim is not None and _el(seg, 1) == "QC":
                    claim.names = (_el(seg, 3) or None, _el(seg, 4) or None, _el(seg, 9) or None)
                continue
            if sid == "MOA":
                if claim is None:
                    raise X12Error("MOA outside a claim", segment=n, position=0)
                claim.remarks.extend(r for r in seg[3:8] if r)
                continue
            if sid == "MIA":
                if claim is None:
                    raise X12Error("MIA outside a claim", segment=n, position=0)
                claim.remarks.extend(
                    r for k, r in enumerate(seg) if r and (k == 5 or 20 <= k <= 24)
                )
                continue
            if sid == "LX":
                close_claim()
                continue
            if sid == "PLB":
                close_claim()
                provider = _need(seg, 1, n)
                fiscal = _date(seg, 2, n)
                size = len(seg)
                for j in range(_PLB_PAIRS):
                    pos = 3 + 2 * j
                    if pos >= size or not seg[pos]:
                        if j == 0:
                            raise X12Error("PLB03 is missing", segment=n, position=3)
                        continue
                    reason, _, ref = seg[pos].partition(comp)
                    if not reason:
                        raise X12Error(f"PLB{pos:02d} has no reason code", segment=n, position=pos)
                    plbs.append(
                        Plb(
                            provider,
                            fiscal,
                            reason,
                            ref or None,
                            _amount(seg, pos + 1, n),
                            txn.index,
                            n,
                        )
                    )
                continue
            if sid == "SE":
                close_claim()
                count = _need(seg, 1, n)
                if not count.isdigit() or int(count) != n - txn.n + 1:
                    raise X12Error(
                        f"SE01 says {count!r} segments, transaction {txn.control} has "
                        f"{n - txn.n + 1}",
                        segment=n,
                        position=1,
                    )
                if _el(seg, 2) != txn.control:
                    raise X12Error(
                        f"SE02 {_el(seg, 2)!r} does not match ST02 {txn.control!r}",
                        segment=n,
                        position=2,
                    )
                txn = None
                payment = None
                continue
            if sid == "BPR":
                if payment is not None or txn.bpr is not None:
                    raise X12Error("BPR repeated in one transaction", segment=n, position=0)
                txn.bpr, txn.bpr_n = seg, n
                continue
            if sid == "TRN":
                if claim is None and txn.trn is None:
                    txn.trn, txn.trn_n = seg, n
                continue
            if sid == "N1":
                if claim is None and payment is None:
                    ent = _el(seg, 1)
                    txn.section = ent
                    if ent == "PR":
                        txn.payer_name = _el(seg, 2) or None
                        if _el(seg, 3) == "XV":
                            txn.payer_id = _el(seg, 4) or None
                    elif ent == "PE":
                        txn.payee_name = _el(seg, 2) or None
                        if _el(seg, 3) == "XX":
                            txn.payee_npi = _el(seg, 4) or None
                        elif _el(seg, 3) == "FI":
                            txn.payee_tax_id = _el(seg, 4) or None
                continue
            if sid in ("ISA", "IEA", "GS", "GE"):
                raise X12Error(
                    f"{sid} inside transaction {txn.control} (no SE before it)",
                    segment=n,
                    position=0,
                )
            continue  # other segments (CUR, DTM*405, N3, N4, PER, TS3, TS2, QTY, ...)
        if sid == "ISA":
            if isa is not None or len(seg) != 17:
                why = (
                    "ISA before the previous IEA"
                    if isa is not None
                    else (f"ISA has {len(seg)} elements, 17 expected")
                )
                raise X12Error(why, segment=n, position=0)
            if len(seg[16]) != 1 or seg[16] != comp:
                raise X12Error(
                    f"ISA16 {seg[16]!r} differs from the first interchange's "
                    f"component separator {comp!r}",
                    segment=n,
                    position=16,
                )
            isa, groups = seg, 0
        elif sid == "GS":
            if isa is None or gs is not None:
                raise X12Error(
                    "GS outside an interchange" if isa is None else "GS before the previous GE",
                    segment=n,
                    position=0,
                )
            gs, txns = seg, 0
            groups += 1
        elif sid == "ST":
            if gs is None:
                raise X12Error(
                    "ST outside a functional group (no GS before it)", segment=n, position=0
                )
            if txn is not None:
                raise X12Error(f"ST before SE of transaction {txn.control}", segment=n, position=0)
            if _el(seg, 1) != "835":
                raise X12Error(f"ST01 {_el(seg, 1)[:10]!r} is not an 835", segment=n, position=1)
            txn = _Txn(_need(seg, 2, n), len(payments), n)
            txns += 1
        elif sid == "GE":
            if gs is None:
                raise X12Error("GE without GS", segment=n, position=0)
            if _el(seg, 1) != str(txns):
                raise X12Error(
                    f"GE01 says {_el(seg, 1)!r} transactions, the group has {txns}",
                    segment=n,
                    position=1,
                )
            if _el(seg, 2) != _el(gs, 6):
                raise X12Error(
                    f"GE02 {_el(seg, 2)!r} does not match GS06 {_el(gs, 6)!r}",
                    segment=n,
                    position=2,
                )
            gs = None
        elif sid == "IEA":
            if isa is None or gs is not None:
                raise X12Error(
                    "IEA without ISA" if isa is None else "IEA before GE", segment=n, position=0
                )
            if _el(seg, 1) != str(groups):
                raise X12Error(
                    f"IEA01 says {_el(seg, 1)!r} groups, the interchange has {groups}",
                    segment=n,
                    position=1,
                )
            if _el(seg, 2) != isa[13]:
                raise X12Error(
                    f"IEA02 {_el(seg, 2)!r} does not match ISA13 {isa[13]!r}", segment=n, position=2
                )
            isa = None
        else:
            where = "a transaction (no ST before it)" if gs is not None else "an interchange"
            raise X12Error(f"{sid[:10]} outside {where}", segment=n, position=0)
    if n == 0:
        raise X12Error("not X12: no segments", segment=1, position=0)
    if isa is not None or txn is not None:
        raise X12Error(
            f"truncated interchange: it ends after {sid[:10]} without IEA", segment=n, position=0
        )
    return Remittance(tuple(payments), tuple(claims), tuple(plbs))


# --- balancing and JSON ------------------------------------------------------


def _fmt(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


class Discrepancy(NamedTuple):
    """One broken balancing rule, exactly: where, what was expected, what the file says."""

    scope: str  # payment | claim | line
    trace_number: str
    patient_control_number: str | None
    line: int | None
    segment: int
    expected_cents: int
    actual_cents: int
    off_by_cents: int  # the gap the message states
    message: str

    def as_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "trace_number": self.trace_number,
            "patient_control_number": self.patient_control_number,
            "line": self.line,
            "segment": self.segment,
            "expected_cents": self.expected_cents,
            "actual_cents": self.actual_cents,
            "off_by_cents": self.off_by_cents,
            "message": self.message,
        }


def balance_discrepancies(rem: Remittance) -> list[Discrepancy]:
    """Every broken 835 balancing rule. Empty when the file balances.

    - per transaction: BPR02 = sum(CLP04) - sum(PLB amounts)
    - per claim: CLP03 - CLP04 = sum of claim and line CAS amounts
    - per line: SVC02 - SVC03 = sum of that line's CAS amounts

    For a claim or line, ``expected_cents`` is charge - paid, ``actual_cents`` the sum of
    the adjustments and ``off_by_cents`` expected - actual; for a payment, expected is
    claims paid - PLB, actual is BPR02 and off_by is actual - expected.
    """
    out: list[Discrepancy] = []
    paid = [0] * len(rem.payments)
    plb = [0] * len(rem.payments)
    for c in rem.claims:
        paid[c.transaction] += c.paid.cents
        line_cas = 0
        for k, ln in enumerate(c.lines, start=1):
            cas = sum(a.amount.cents for a in ln.adjustments)
            line_cas += cas
            gap = ln.charge.cents - ln.paid.cents - cas
            if gap:
                out.append(
                    Discrepancy(
                        "line",
                        c.trace_number,
                        c.patient_control_number,
                        k,
                        ln.segment,
                        ln.charge.cents - ln.paid.cents,
                        cas,
                        gap,
                        f"claim {c.patient_control_number} line {k} ({ln.procedure}, segment "
                        f"{ln.segment}): charge {_fmt(ln.charge.cents)} - paid "
                        f"{_fmt(ln.paid.cents)} = {_fmt(ln.charge.cents - ln.paid.cents)} but "
                        f"its adjustments total {_fmt(cas)}, off by {gap} cents",
                    )
                )
        cas = sum(a.amount.cents for a in c.adjustments) + line_cas
        gap = c.charge.cents - c.paid.cents - cas
        if gap:
            out.append(
                Discrepancy(
                    "claim",
                    c.trace_number,
                    c.patient_control_number,
                    None,
                    c.segment,
                    c.charge.cents - c.paid.cents,
                    cas,
                    gap,
                    f"claim {c.patient_control_number} (segment {c.segment}): charge "
                    f"{_fmt(c.charge.cents)} - paid {_fmt(c.paid.cents)} = "
                    f"{_fmt(c.charge.cents - c.paid.cents)} but claim and line adjustments total "
                    f"{_fmt(cas)}, off by {gap} cents",
                )
            )
    for p in rem.provider_adjustments:
        plb[p.transaction] += p.amount.cents
    for k, pay in enumerate(rem.payments):
        expected = paid[k] - plb[k]
        gap = pay.signed_cents - expected
        if gap:
            out.append(
                Discrepancy(
                    "payment",
                    pay.trace_number,
                    None,
                    None,
                    pay.segment,
                    expected,
                    pay.signed_cents,
                    gap,
                    f"payment {pay.trace_number} (transaction {pay.control_number}, segment "
                    f"{pay.segment}): BPR02 {_fmt(pay.signed_cents)} but claims paid "
                    f"{_fmt(paid[k])} - provider adjustments {_fmt(plb[k])} = "
                    f"{_fmt(expected)}, off by {gap} cents",
                )
            )
    return out


def balance_problems(rem: Remittance) -> list[str]:
    """Every broken 835 balancing rule, as exact sentences. Empty when the file balances."""
    return [d.message for d in balance_discrepancies(rem)]


def _cas_json(items: tuple[Cas, ...]) -> list[dict[str, Any]]:
    return [{"group": a.group, "reason": a.reason, "amount": a.amount.text} for a in items]


def to_json(rem: Remittance) -> dict[str, Any]:
    """A JSON-ready dict; amounts are the decimal text exactly as the file states them."""
    return {
        "payments": [
            {
                "amount": p.amount.text,
                "method": p.method,
                "date": p.date.isoformat() if p.date else None,
                "trace": p.trace_number,
            }
            for p in rem.payments
        ],
        "claims": [
            {
                "patient_control_number": c.patient_control_number,
                "status": c.status_code,
                "charge": c.charge.text,
                "paid": c.paid.text,
                "patient_responsibility": (
                    c.patient_responsibility.text if c.patient_responsibility else None
                ),
                "payer_claim_number": c.payer_claim_number,
                "adjustments": _cas_json(c.adjustments),
                "lines": [
                    {
                        "procedure": ln.procedure,
                        "modifiers": list(ln.modifiers),
                        "charge": ln.charge.text,
                        "paid": ln.paid.text,
                        "allowed": ln.allowed.text if ln.allowed else None,
                        "units": ln.units,
                        "adjustments": _cas_json(ln.adjustments),
                        "remarks": list(ln.remarks),
                    }
                    for ln in c.lines
                ],
            }
            for c in rem.claims
        ],
        "provider_adjustments": [
            {
                "provider": p.provider_id,
                "reason": p.reason,
                "reference": p.reference,
                "amount": p.amount.text,
            }
            for p in rem.provider_adjustments
        ],
    }
