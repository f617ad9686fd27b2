"""The clearinghouse's 277CA (005010X214): each claim of an 837 batch accepted or
rejected (front-end edits), grouped by billing provider."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from runtime.x12 import Delimiters, Envelope, composite, money, segment, transaction, wrap
from services.simulator.model import ClaimIn

V277CA = "005010X214"


def _d8(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


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


def _totals(items: Sequence[ClaimAck], accept_q: str, reject_q: str, d: Delimiters) -> list[str]:
    """QTY and AMT of the accepted and the rejected claims among ``items``."""
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


def _patient(
    a: ClaimAck, hl: int, provider_hl: int, processed: dt.date, receipt_trace: str, d: Delimiters
) -> list[str]:
    """The patient level (HL PT) of one claim: accepted or rejected, with its reasons."""
    c = a.claim
    body: list[str] = []
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
    return body


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
        *_totals(list(ok) + list(bad), "90", "AA", d),
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
            *_totals(items, "QA", "QC", d),
        ]
        for a in items:
            hl += 1
            body += _patient(a, hl, provider_hl, processed, receipt_trace, d)
    st = transaction("277", control_number, body, V277CA, d=d)
    return wrap(replace(envelope, functional_id="HN", version=V277CA), [st], d)
