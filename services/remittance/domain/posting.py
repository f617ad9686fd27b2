"""What posting one 835 writes: the key each CLP and PLB posts under, which earlier posting
a reversal undoes, and the ledger, denial and underpayment rows of each posted claim.
Pure: the repository writes these rows as they are (their fields are its columns)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from services.remittance.domain.adjudication import work_items
from services.remittance.domain.contracts import Book
from services.remittance.domain.later_payer import later_underpayments
from services.remittance.domain.ledger import ledger_rows, underpayments
from services.remittance.domain.reasons import carc_words, rarc_words, suggested_action
from services.remittance.x12_835.model import RemitClaim, Remittance

#: A posting's key within a tenant and payer: trace, CLP01, CLP07 ("" when absent),
#: CLP02 and the n-th time these four appear in the file.
PostingKey = tuple[str, str, str, str, int]


@dataclass(frozen=True, slots=True)
class Matched:
    """A CLP of a remittance and the claim of ours it pays."""

    index: int  # position in the remit's claims
    clp: RemitClaim
    claim_id: str
    matched_by: str
    occurrence: int

    @property
    def key(self) -> PostingKey:
        c = self.clp
        return (
            c.trace_number,
            c.patient_control_number,
            c.payer_claim_number or "",
            c.status_code,
            self.occurrence,
        )


def occurrences(rem: Remittance) -> list[int]:
    """The n-th time each (trace, CLP01, CLP07, CLP02) appears in the file: part of the key."""
    o = Occurrences()
    return [o.next(c) for c in rem.claims]


class Occurrences:
    """:func:`occurrences` claim by claim, in file order."""

    def __init__(self) -> None:
        self.seen: Counter[tuple[str, str, str, str]] = Counter()

    def next(self, c: RemitClaim) -> int:
        key = (c.trace_number, c.patient_control_number, c.payer_claim_number or "", c.status_code)
        n = self.seen[key]
        self.seen[key] += 1
        return n


def plb_keys(rem: Remittance) -> tuple[list[str], list[int]]:
    """Each PLB adjustment's trace and its n-th place among that trace's adjustments."""
    traces = [rem.payments[p.transaction].trace_number for p in rem.provider_adjustments]
    seen: Counter[str] = Counter()
    occ = []
    for t in traces:
        occ.append(seen[t])
        seen[t] += 1
    return traces, occ


class Original(NamedTuple):
    """A posting a reversal may undo."""

    posting_id: int
    claim_id: str
    payer_claim_number: str


def reversed_postings(
    reversals: Iterable[Matched], originals: Sequence[Original]
) -> dict[int, int]:
    """The posting each reversal undoes, by the reversal's index in the remit: of the
    ``originals`` (newest first), the first of its claim with the same payer claim number,
    else of its claim, that no earlier reversal took."""
    out: dict[int, int] = {}
    used: set[int] = set()
    for it in reversals:
        candidates = [o for o in originals if o.claim_id == it.claim_id]
        same = [o for o in candidates if o.payer_claim_number == (it.clp.payer_claim_number or "")]
        pick = next((o.posting_id for o in (*same, *candidates) if o.posting_id not in used), None)
        if pick is not None:
            used.add(pick)
            out[it.index] = pick
    return out


class LedgerLine(NamedTuple):
    posting_id: int
    claim_id: str
    line_number: int
    procedure: str | None
    kind: str
    cas_group: str | None
    reason: str | None
    amount_cents: int
    category: str


class DenialRow(NamedTuple):
    posting_id: int
    tenant: str
    claim_id: str
    payer_id: str
    line_number: int
    procedure: str | None
    cas_group: str
    reason: str
    amount_cents: int
    category: str
    remarks: list[str]
    reason_text: str  # the CARC in words
    remark_texts: list[str]  # each RARC in words
    action: str  # what a person does about it


class UnderpaidRow(NamedTuple):
    posting_id: int
    tenant: str
    claim_id: str
    payer_id: str
    line_number: int
    procedure: str
    modifiers: str
    place_of_service: str | None
    units: str
    service_date: dt.date
    allowed_cents: int
    paid_cents: int
    contracted_cents: int
    shortfall_cents: int
    basis: str


@dataclass(slots=True)
class PostingRows:
    """Everything the posted claims of one 835 write besides the postings themselves."""

    tenant: str
    payer_id: str
    book: Book = field(default_factory=Book)  # the tenant's contract with the payer
    threshold_cents: int = 0  # a shortfall above this is an underpayment
    ledger: list[LedgerLine] = field(default_factory=list)
    denied: list[DenialRow] = field(default_factory=list)
    underpaid: list[UnderpaidRow] = field(default_factory=list)
    #: per claim and line, what the other payers paid (for a later payer's answer)
    prior_paid: dict[str, dict[int, int]] = field(default_factory=dict)
    undone: list[tuple[int, int]] = field(default_factory=list)  # (original, reversal) ids
    learned: list[tuple[str, str]] = field(default_factory=list)  # (CLP07, our claim id)

    def add(self, posting_id: int, it: Matched, reverses: int | None) -> None:
        """The rows of one posted claim; ``reverses``: the posting it undoes, if any."""
        clp, claim_id, tenant, payer_id = it.clp, it.claim_id, self.tenant, self.payer_id
        self.ledger.extend(
            LedgerLine(posting_id, claim_id, r.line_number, r.procedure, r.kind, r.group,
                       r.reason, r.amount_cents, r.category)
            for r in ledger_rows(clp)
        )  # fmt: skip
        self.denied.extend(
            DenialRow(posting_id, tenant, claim_id, payer_id, d.line_number, d.procedure,
                      d.group, d.reason, d.amount_cents, d.category, list(d.remarks),
                      carc_words(d.reason), rarc_words(d.remarks),
                      suggested_action(d.category, d.reason))
            for d in work_items(clp)
        )  # fmt: skip
        self.underpaid.extend(
            UnderpaidRow(posting_id, tenant, claim_id, payer_id, u.line_number, u.procedure,
                         u.modifiers, clp.facility_code, u.units, u.service_date,
                         u.allowed_cents, u.paid_cents, u.contracted_cents, u.shortfall_cents,
                         u.basis)
            for u in [
                *underpayments(clp, self.book, self.threshold_cents),
                *later_underpayments(
                    clp, self.book, self.threshold_cents, self.prior_paid.get(claim_id or "", {})
                ),
            ]
        )  # fmt: skip
        if reverses is not None:
            self.undone.append((reverses, posting_id))
        if clp.payer_claim_number and not clp.is_reversal:
            self.learned.append((clp.payer_claim_number, claim_id or ""))


def trace_digests(rem: Remittance) -> dict[str, str]:
    """Per payment trace (TRN02) of the file, a digest of the money it states: the
    payment, each claim's key, amounts and adjustments, each provider adjustment. The
    same payment delivered again (in any envelope, claims in any order) has the same
    digest; one with a claim changed, added or dropped has another."""
    d = TraceDigests()
    for c in rem.claims:
        d.claim(c)
    return d.finish(rem)


class TraceDigests:
    """:func:`trace_digests` claim by claim, as a reader hands them over: it keeps one
    short line per claim, not the claims."""

    def __init__(self) -> None:
        self.parts: dict[int, list[str]] = {}

    def claim(self, c: RemitClaim) -> None:
        cas = sorted((a.group, a.reason, a.amount.cents) for a in c.all_adjustments)
        lines = [(ln.procedure, ln.modifiers, ln.charge.cents, ln.paid.cents) for ln in c.lines]
        key = (c.patient_control_number, c.status_code, c.payer_claim_number or "")
        clp = (key, c.charge.cents, c.paid.cents, c.patient_responsibility_cents, cas, lines)
        self.parts.setdefault(c.transaction, []).append(repr(clp))

    def finish(self, rem: Remittance) -> dict[str, str]:
        """With the file's payments and provider adjustments (its claims not needed)."""
        parts = self.parts
        for p in rem.provider_adjustments:
            plb = (p.provider_id, p.reason, p.reference or "", p.amount.cents)
            parts.setdefault(p.transaction, []).append(repr(plb))
        by_trace: dict[str, list[str]] = {}
        for k, pay in enumerate(rem.payments):
            stated = repr((pay.signed_cents, pay.method, sorted(parts.get(k, []))))
            by_trace.setdefault(pay.trace_number, []).append(stated)
        return {
            trace: hashlib.sha256("\n".join(sorted(items)).encode()).hexdigest()
            for trace, items in by_trace.items()
        }
