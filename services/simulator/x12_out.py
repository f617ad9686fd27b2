"""What the clearinghouse and payers send back: 999, 277CA and 835 interchanges.

Pure text builders over ``runtime.x12``. The caller owns the control numbers: it passes
an ``Envelope`` (sender, receiver, ISA13, GS06, time); the functional identifier and
version are set here for each transaction.

835 amounts follow the balancing rules of 005010X221A1:

    CLP03 = CLP04 + claim CAS + line CAS        SVC02 = SVC03 + line CAS
    BPR02 = sum(CLP04) - sum(PLB amounts)

A PLB amount is positive when it takes money back (WO overpayment recovery, FB
forwarding balance) and negative when it adds money (L6 interest).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from itertools import groupby

from runtime.x12 import Delimiters, Envelope, composite, money, segment, transaction, wrap
from services.simulator.adjudicate import Adjudication, Cas, ClaimIn
from services.simulator.payers import PayerPlan
from services.simulator.x12_in import Interchange837, SegmentError

V835 = "005010X221A1"
V999 = "005010X231A1"
V277CA = "005010X214"
CAS_PAIRS_PER_SEGMENT = 6
PLB_PAIRS_PER_SEGMENT = 6
#: Simulated bank routing/account numbers for ACH remittances (not real institutions).
PAYER_ROUTING = "999999992"
PAYER_ACCOUNT = "123456789"
PAYEE_ROUTING = "999999989"
PAYEE_ACCOUNT = "987654321"


def _d8(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def _env(envelope: Envelope, functional_id: str, version: str) -> Envelope:
    return replace(envelope, functional_id=functional_id, version=version)


# --- 835 ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProviderAdjustment:
    """One PLB adjustment. Positive amounts reduce the payment, negative ones add to it."""

    reason: str
    amount_cents: int
    reference: str | None = None


def interest(amount_cents: int, claim_number: str) -> ProviderAdjustment:
    """Prompt-pay interest paid with the remittance (PLB L6, a negative amount)."""
    return ProviderAdjustment("L6", -abs(amount_cents), claim_number)


def recoupment(amount_cents: int, reference: str) -> ProviderAdjustment:
    """An overpayment taken back from this payment (PLB WO, a positive amount)."""
    return ProviderAdjustment("WO", abs(amount_cents), reference)


def _cas_segments(adjustments: Sequence[Cas], d: Delimiters) -> list[str]:
    out: list[str] = []
    ordered = sorted(adjustments, key=lambda a: a.group)
    for group, items in groupby(ordered, key=lambda a: a.group):
        pending = [a for a in items if a.amount_cents]
        for start in range(0, len(pending), CAS_PAIRS_PER_SEGMENT):
            chunk = pending[start : start + CAS_PAIRS_PER_SEGMENT]
            elements: list[str] = []
            for a in chunk:
                elements += [a.reason, money(a.amount_cents), ""]
            out.append(segment("CAS", group, *elements, d=d))
    return out


def _svc_procedure(code: str, modifiers: Sequence[str], d: Delimiters) -> str:
    qualifier = "HC"
    return composite(qualifier, code, *modifiers[:4], d=d)


def _claim_segments(adj: Adjudication, plan: PayerPlan, d: Delimiters) -> list[str]:
    claim = adj.claim
    segs = [
        segment(
            "CLP",
            claim.patient_control_number,
            adj.status,
            money(adj.charge_cents),
            money(adj.paid_cents),
            money(adj.patient_responsibility_cents),
            claim.filing_indicator or plan.filing_indicator,
            adj.payer_claim_number,
            claim.place_of_service,
            claim.frequency_code,
            d=d,
        )
    ]
    segs += _cas_segments(adj.claim_adjustments, d)
    if claim.subscriber is None:
        segs.append(
            segment(
                "NM1",
                "QC",
                "1",
                claim.patient.last,
                claim.patient.first,
                "",
                "",
                "",
                "MI",
                claim.member_id,
                d=d,
            )
        )
    else:
        segs.append(segment("NM1", "QC", "1", claim.patient.last, claim.patient.first, d=d))
        segs.append(
            segment(
                "NM1",
                "IL",
                "1",
                claim.subscriber.last,
                claim.subscriber.first,
                "",
                "",
                "",
                "MI",
                claim.member_id,
                d=d,
            )
        )
    if claim.rendering_npi and claim.rendering_npi != claim.billing_npi:
        segs.append(segment("NM1", "82", "1", "", "", "", "", "", "XX", claim.rendering_npi, d=d))
    if adj.claim_remarks:
        segs.append(segment("MOA", "", "", *adj.claim_remarks[:5], d=d))
    if adj.received:
        segs.append(segment("DTM", "050", _d8(adj.received), d=d))
    for ln in adj.lines:
        segs.append(
            segment(
                "SVC",
                _svc_procedure(ln.procedure_code, ln.modifiers, d),
                money(ln.charge_cents),
                money(ln.paid_cents),
                "",
                str(ln.units),
                d=d,
            )
        )
        segs.append(segment("DTM", "472", _d8(ln.service_date), d=d))
        segs += _cas_segments(ln.adjustments, d)
        if ln.control_number:
            segs.append(segment("REF", "6R", ln.control_number, d=d))
        if not ln.denied:
            segs.append(segment("AMT", "B6", money(ln.allowed_cents), d=d))
        segs += [segment("LQ", "HE", remark, d=d) for remark in ln.remarks]
    return segs


def payment_total(
    adjudications: Sequence[Adjudication], adjustments: Sequence[ProviderAdjustment] = ()
) -> int:
    """BPR02: sum of CLP04 less the PLB amounts."""
    return sum(a.paid_cents for a in adjudications) - sum(p.amount_cents for p in adjustments)


def write_835(
    adjudications: Sequence[Adjudication],
    *,
    plan: PayerPlan,
    envelope: Envelope,
    payment_date: dt.date,
    trace_number: str,
    control_number: str = "0001",
    adjustments: Sequence[ProviderAdjustment] = (),
    receiver_id: str | None = None,
    production_date: dt.date | None = None,
    d: Delimiters | None = None,
) -> str:
    """One 835 for one payer and one payee (billing NPI).

    A batch whose payments net below zero (reversals outweighing new payments) gets a
    PLB FB forwarding balance for the shortfall so that BPR02 is zero, never negative.
    """
    d = d or Delimiters()
    if not adjudications:
        raise ValueError("an 835 needs at least one claim")
    payees = {a.claim.billing_npi for a in adjudications}
    if len(payees) != 1:
        raise ValueError(f"one 835 per payee; this batch has {sorted(payees)}")
    if any(a.payer_id != plan.payer_id for a in adjudications):
        raise ValueError(f"every claim of this 835 must be from {plan.payer_id}")
    first: ClaimIn = adjudications[0].claim
    plb = list(adjustments)
    total = payment_total(adjudications, plb)
    if total < 0:
        plb.append(ProviderAdjustment("FB", total, trace_number))
        total = 0

    company = "1" + plan.tax_id
    if total == 0:
        bpr = segment("BPR", "H", "0", "C", "NON", *[""] * 11, _d8(payment_date), d=d)
    elif plan.payment_method == "ACH":
        bpr = segment(
            "BPR",
            "I",
            money(total),
            "C",
            "ACH",
            "CCP",
            "01",
            PAYER_ROUTING,
            "DA",
            PAYER_ACCOUNT,
            company,
            "",
            "01",
            PAYEE_ROUTING,
            "DA",
            PAYEE_ACCOUNT,
            _d8(payment_date),
            d=d,
        )
    else:
        bpr = segment("BPR", "C", money(total), "C", "CHK", *[""] * 11, _d8(payment_date), d=d)

    body = [
        bpr,
        segment("TRN", "1", trace_number, company, d=d),
        segment("REF", "EV", receiver_id or first.submitter_id or first.billing_npi, d=d),
        segment("DTM", "405", _d8(production_date or payment_date), d=d),
        segment("N1", "PR", plan.name, d=d),
        segment("N3", plan.address.line1, d=d),
        segment("N4", plan.address.city, plan.address.state, plan.address.postal_code, d=d),
        segment("REF", "2U", plan.payer_id, d=d),
        segment("PER", "BL", "EDI SUPPORT", "TE", plan.contact_phone, d=d),
        segment("N1", "PE", first.billing_name or "PAYEE", "XX", first.billing_npi, d=d),
    ]
    if first.billing_tax_id:
        body.append(segment("REF", "TJ", first.billing_tax_id, d=d))
    body.append(segment("LX", "1", d=d))
    for adj in adjudications:
        body += _claim_segments(adj, plan, d)
    fiscal_end = dt.date(payment_date.year, 12, 31)
    for start in range(0, len(plb), PLB_PAIRS_PER_SEGMENT):
        elements: list[str] = []
        for p in plb[start : start + PLB_PAIRS_PER_SEGMENT]:
            elements += [composite(p.reason, p.reference, d=d), money(p.amount_cents)]
        body.append(segment("PLB", first.billing_npi, _d8(fiscal_end), *elements, d=d))
    st = transaction("835", control_number, body, d=d)
    return wrap(_env(envelope, "HP", V835), [st], d)


# --- 999 ------------------------------------------------------------------------------


def _ik_segments(err: SegmentError, d: Delimiters) -> list[str]:
    if err.set_code not in ("5",):
        return []
    segs = [segment("IK3", err.segment_id, str(err.set_position), "", err.segment_code, d=d)]
    if err.position and err.element_code:
        bad = err.value if err.value and err.element_code != "1" else None
        if bad is not None:
            for ch in (d.element, d.component, d.segment, d.repetition):
                bad = bad.replace(ch, " ")
        segs.append(segment("IK4", str(err.position), "", err.element_code, bad, d=d))
    return segs


def write_999(
    received: Interchange837,
    *,
    envelope: Envelope,
    first_control_number: int = 1,
    d: Delimiters | None = None,
) -> str:
    """A 999 for every functional group of a received 837P, accepting or rejecting each set.

    Build the input with ``x12_in.triage_837``; a set with an ``error`` is rejected.
    """
    d = d or Delimiters()
    sets: list[list[str]] = []
    for n, group in enumerate(received.groups):
        body = [segment("AK1", group.functional_id, group.control_number, group.version, d=d)]
        accepted = 0
        for ts in group.sets:
            body.append(segment("AK2", "837", ts.control_number, ts.version, d=d))
            if ts.error is None:
                accepted += 1
                body.append(segment("IK5", "A", d=d))
            else:
                body += _ik_segments(ts.error, d)
                body.append(segment("IK5", "R", ts.error.set_code, d=d))
        count = len(group.sets)
        code = "A" if accepted == count else ("R" if accepted == 0 else "P")
        body.append(segment("AK9", code, str(count), str(count), str(accepted), d=d))
        control = f"{first_control_number + n:04d}"
        sets.append(transaction("999", control, body, V999, d=d))
    return wrap(_env(envelope, "FA", V999), sets, d)


# --- 277CA ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusReason:
    """STC01 of a rejection: claim status category, claim status code, optional entity."""

    category: str
    code: str
    entity: str | None = None
    message: str = ""


@dataclass(frozen=True, slots=True)
class ClaimAck:
    claim: ClaimIn
    reasons: tuple[StatusReason, ...] = ()
    #: REF*1K on an accepted claim: the payer claim number assigned.
    payer_claim_number: str | None = None

    @property
    def accepted(self) -> bool:
        return not self.reasons


ACCEPTED = StatusReason("A1", "20")
RECEIVED = StatusReason("A1", "19")


def _stc(reason: StatusReason, d: Delimiters) -> str:
    return composite(reason.category, reason.code, reason.entity, d=d)


def _service_dates(claim: ClaimIn, d: Delimiters) -> str:
    days = [ln.service_date or claim.date_of_service for ln in claim.lines]
    first, last = min(days), max(days)
    if first == last:
        return segment("DTP", "472", "D8", _d8(first), d=d)
    return segment("DTP", "472", "RD8", f"{_d8(first)}-{_d8(last)}", d=d)


def write_277ca(
    acks: Sequence[ClaimAck],
    *,
    envelope: Envelope,
    source_name: str,
    source_id: str,
    receiver_name: str,
    receiver_id: str,
    received: dt.date,
    processed: dt.date,
    batch_reference: str,
    receipt_trace: str,
    control_number: str = "0001",
    d: Delimiters | None = None,
) -> str:
    """One 277CA acknowledging the claims of one 837 batch, grouped by billing provider.

    ``source_*`` is the clearinghouse (or payer) answering; ``receiver_*`` the submitter.
    ``batch_reference`` is the 837's BHT03, ``receipt_trace`` our own receipt id.
    """
    d = d or Delimiters()
    if not acks:
        raise ValueError("a 277CA needs at least one claim")
    ok = [a for a in acks if a.accepted]
    bad = [a for a in acks if not a.accepted]

    def totals(items: Sequence[ClaimAck], accept_q: str, reject_q: str) -> list[str]:
        good = [a for a in items if a.accepted]
        rejected = [a for a in items if not a.accepted]
        out: list[str] = []
        if good:
            out.append(segment("QTY", accept_q, str(len(good)), d=d))
        if rejected:
            out.append(segment("QTY", reject_q, str(len(rejected)), d=d))
        if good:
            amount = sum(a.claim.total_charge_cents for a in good)
            out.append(segment("AMT", "YU", money(amount), d=d))
        if rejected:
            amount = sum(a.claim.total_charge_cents for a in rejected)
            out.append(segment("AMT", "YY", money(amount), d=d))
        return out

    total = sum(a.claim.total_charge_cents for a in acks)
    body = [
        segment("BHT", "0085", "08", receipt_trace, _d8(processed), "1200", "TH", d=d),
        segment("HL", "1", "", "20", "1", d=d),
        segment("NM1", "AY", "2", source_name, "", "", "", "", "46", source_id, d=d),
        segment("TRN", "1", receipt_trace, d=d),
        segment("DTP", "050", "D8", _d8(received), d=d),
        segment("DTP", "009", "D8", _d8(processed), d=d),
        segment("HL", "2", "1", "21", "1", d=d),
        segment("NM1", "41", "2", receiver_name, "", "", "", "", "46", receiver_id, d=d),
        segment("TRN", "2", batch_reference, d=d),
        segment("STC", _stc(RECEIVED, d), _d8(processed), "WQ", money(total), d=d),
        *totals(list(ok) + list(bad), "90", "AA"),
    ]
    hl = 2
    by_provider: dict[tuple[str, str], list[ClaimAck]] = {}
    for a in acks:
        by_provider.setdefault((a.claim.billing_npi, a.claim.billing_name), []).append(a)
    for (npi, name), items in by_provider.items():
        hl += 1
        provider_hl = hl
        amount = sum(a.claim.total_charge_cents for a in items)
        body += [
            segment("HL", str(provider_hl), "2", "19", "1", d=d),
            segment("NM1", "85", "2", name or "PROVIDER", "", "", "", "", "XX", npi, d=d),
            segment("TRN", "1", "0", d=d),
            segment("STC", _stc(RECEIVED, d), "", "WQ", money(amount), d=d),
            *totals(items, "QA", "QC"),
        ]
        for a in items:
            hl += 1
            c = a.claim
            body += [
                segment("HL", str(hl), str(provider_hl), "PT", d=d),
                segment(
                    "NM1",
                    "QC",
                    "1",
                    c.patient.last,
                    c.patient.first,
                    "",
                    "",
                    "",
                    "MI",
                    c.member_id or "UNKNOWN",
                    d=d,
                ),
                segment("TRN", "2", c.patient_control_number, d=d),
            ]
            if a.accepted:
                body.append(
                    segment(
                        "STC",
                        _stc(ACCEPTED, d),
                        _d8(processed),
                        "WQ",
                        money(c.total_charge_cents),
                        d=d,
                    )
                )
            else:
                first, *more = a.reasons
                extra = [_stc(r, d) for r in more[:2]]
                body.append(
                    segment(
                        "STC",
                        _stc(first, d),
                        _d8(processed),
                        "U",
                        money(c.total_charge_cents),
                        "",
                        "",
                        "",
                        "",
                        "",
                        *extra,
                        d=d,
                    )
                )
            if a.accepted and a.payer_claim_number:
                body.append(segment("REF", "1K", a.payer_claim_number, d=d))
            body.append(segment("REF", "D9", f"{receipt_trace}{hl:04d}", d=d))
            body.append(_service_dates(c, d))
    st = transaction("277", control_number, body, V277CA, d=d)
    return wrap(_env(envelope, "HN", V277CA), [st], d)


def npi_is_valid(npi: str) -> bool:
    """Ten digits whose last is the Luhn check digit over 80840 + the first nine."""
    if len(npi) != 10 or not npi.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed("80840" + npi[:9])):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return (10 - total % 10) % 10 == int(npi[9])


def front_end_edits(claim: ClaimIn, known_payers: Collection[str]) -> tuple[StatusReason, ...]:
    """The clearinghouse's claim-level edits; any reason rejects the claim on the 277CA.

    Category A3 (returned as unprocessable) with the claim status code that names what
    is wrong and, where it helps, the entity it is wrong for.
    """
    reasons: list[StatusReason] = []
    if claim.payer_id not in known_payers:
        reasons.append(StatusReason("A3", "116", "PR", f"unknown payer id {claim.payer_id!r}"))
    if not claim.member_id:
        reasons.append(StatusReason("A3", "164", "IL", "member id missing"))
    if not npi_is_valid(claim.billing_npi):
        reasons.append(
            StatusReason("A3", "562", "85", f"invalid billing NPI {claim.billing_npi!r}")
        )
    line_total = sum(ln.charge_cents for ln in claim.lines)
    if line_total != claim.total_charge_cents:
        reasons.append(
            StatusReason(
                "A3", "178", None, f"CLM02 {claim.total_charge_cents} != lines {line_total}"
            )
        )
    return tuple(reasons)
