"""The payer's 835 (005010X221A1): one remittance per payer and payee.

A pure text builder over ``runtime.x12``; the caller owns the control numbers and passes
an ``Envelope``. Amounts follow the balancing rules of 005010X221A1:

    CLP03 = CLP04 + claim CAS + line CAS        SVC02 = SVC03 + line CAS
    BPR02 = sum(CLP04) - sum(PLB amounts)

A PLB amount is positive when it takes money back (WO overpayment recovery, FB
forwarding balance) and negative when it adds money (L6 interest).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import groupby

from runtime.x12 import Delimiters, Envelope, composite, money, segment, transaction, wrap
from services.simulator.model import Adjudication, Cas, ClaimIn
from services.simulator.payers import PayerPlan

V835 = "005010X221A1"
CAS_PAIRS_PER_SEGMENT = 6
PLB_PAIRS_PER_SEGMENT = 6
#: Simulated bank routing/account numbers for ACH remittances (not real institutions).
PAYER_ROUTING = "999999992"
PAYER_ACCOUNT = "123456789"
PAYEE_ROUTING = "999999989"
PAYEE_ACCOUNT = "987654321"


def _d8(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


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
            plan.filing_indicator,  # CLP06: what the payer adjudicated it as (837 SBR09 may say CI, which CLP06 has no code for)
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
    if adj.crossover_to is not None:  # the claim was forwarded to this payer (COB)
        name, payer_id = adj.crossover_to
        segs.append(segment("NM1", "TT", "2", name, "", "", "", "", "PI", payer_id, d=d))
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


def _bpr(total: int, plan: PayerPlan, payment_date: dt.date, d: Delimiters) -> str:
    """BPR: no payment, an ACH transfer or a check, as the plan pays."""
    if total == 0:
        return segment("BPR", "H", "0", "C", "NON", *[""] * 11, _d8(payment_date), d=d)
    if plan.payment_method == "ACH":
        return segment(
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
            "1" + plan.tax_id,
            "",
            "01",
            PAYEE_ROUTING,
            "DA",
            PAYEE_ACCOUNT,
            _d8(payment_date),
            d=d,
        )
    return segment("BPR", "C", money(total), "C", "CHK", *[""] * 11, _d8(payment_date), d=d)


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
    bpr = _bpr(total, plan, payment_date, d)
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
    return wrap(replace(envelope, functional_id="HP", version=V835), [st], d)
