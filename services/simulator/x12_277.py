"""Claim status answers: the 277 (005010X212) to a 276, written and read.

The 277 echoes the 276's hierarchy and answers each claim with TRN*2 (the same trace)
and an STC: category and status code, then the claim's charge, what was paid, the
adjudication date, the check (EFT) date and trace number.

Pure text over ``runtime.x12``. ``read_277`` is here so the simulator's own tests and
tools can speak both ends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from runtime.x12 import (
    Delimiters,
    Envelope,
    X12Error,
    cents,
    composite,
    money,
    segment,
    segments,
    transaction,
    wrap,
)
from services.simulator.x12_276 import (
    V276_277,
    StatusRequest,
    d8_text,
    date_element,
    element,
    hierarchy,
    period,
    service_dates,
)

# Claim status category codes (code source 507) and status codes (code source 508).
RECEIVED = ("A1", "19")  # acknowledgement/receipt: entity acknowledges receipt
ACCEPTED = ("A2", "20")  # acknowledgement/acceptance into adjudication: accepted
NOT_FOUND = ("A4", "35")  # acknowledgement/not found: claim not found
PAID = ("F1", "65")  # finalized/payment: claim has been paid
DENIED = ("F2", "1")  # finalized/denial: see the remittance advice
NO_PAYMENT = ("F4", "104")  # finalized/no payment forthcoming: processed per plan provisions
REVERSED = ("F1", "1")  # finalized: reversed or corrected, see the remittance advice


@dataclass(frozen=True, slots=True)
class ClaimStatus:
    """The answer for one claim (one STC with the claim's references)."""

    category: str
    code: str
    effective: dt.date
    charge_cents: int | None = None
    paid_cents: int | None = None
    adjudicated: dt.date | None = None
    check_date: dt.date | None = None
    check_number: str | None = None
    payer_claim_number: str | None = None
    patient_control_number: str | None = None
    service_from: dt.date | None = None
    service_to: dt.date | None = None


@dataclass(frozen=True, slots=True)
class StatusResult:
    """One claim of a 277 as read back."""

    trace: str
    status: ClaimStatus
    payer_id: str
    member_id: str
    extra: tuple[tuple[str, str], ...] = field(default=())


def _stc(s: ClaimStatus, d: Delimiters) -> str:
    return segment(
        "STC",
        composite(s.category, s.code, d=d),
        d8_text(s.effective),
        "",
        money(s.charge_cents) if s.charge_cents is not None else None,
        money(s.paid_cents) if s.paid_cents is not None else None,
        d8_text(s.adjudicated) if s.adjudicated else None,
        "",
        d8_text(s.check_date) if s.check_date else None,
        s.check_number,
        d=d,
    )


def write_277(
    request: StatusRequest,
    answers: Sequence[ClaimStatus],
    *,
    envelope: Envelope,
    at: dt.datetime,
    control_number: str = "0001",
    d: Delimiters | None = None,
) -> str:
    """The 277 answering a 276: ``answers[i]`` is the status of ``request.inquiries[i]``."""
    d = d or Delimiters()
    if len(answers) != len(request.inquiries):
        raise ValueError(f"{len(answers)} answers for {len(request.inquiries)} claims")
    claims: list[list[str]] = []
    for q, s in zip(request.inquiries, answers, strict=True):
        segs = [segment("TRN", "2", q.trace, d=d), _stc(s, d)]
        number = s.payer_claim_number or q.payer_claim_number
        if number:
            segs.append(segment("REF", "1K", number, d=d))
        pcn = s.patient_control_number or q.patient_control_number
        if pcn:
            segs.append(segment("REF", "EJ", pcn, d=d))
        segs += service_dates(s.service_from or q.service_from, s.service_to or q.service_to, d)
        claims.append(segs)
    body = [
        segment(
            "BHT",
            "0010",
            "08",
            request.reference or request.interchange_control_number,
            at.strftime("%Y%m%d"),
            at.strftime("%H%M"),
            "DG",
            d=d,
        ),
        *hierarchy(request.inquiries, d, claims),
    ]
    st = transaction("277", control_number, body, V276_277, d=d)
    return wrap(replace(envelope, functional_id="HN", version=V276_277, at=at), [st], d)


def _read_stc(seg: list[str], n: int, d: Delimiters) -> ClaimStatus:
    category, code, *_ = [*element(seg, 1).split(d.component), ""]

    def amt(i: int) -> int | None:
        v = element(seg, i)
        try:
            return cents(v) if v else None
        except ValueError:
            raise X12Error(f"STC{i:02d} is not an amount", segment=n, position=i) from None

    def day(i: int) -> dt.date | None:
        v = element(seg, i)
        return date_element(v, n) if v else None

    effective = day(2)
    if effective is None:
        raise X12Error("STC02 date missing", segment=n, position=2)
    return ClaimStatus(
        category=category,
        code=code,
        effective=effective,
        charge_cents=amt(4),
        paid_cents=amt(5),
        adjudicated=day(6),
        check_date=day(8),
        check_number=element(seg, 9) or None,
    )


def read_277(text: str) -> list[StatusResult]:
    """Each claim's status in a 277 (005010X212), in file order."""
    d, segs = segments(text)
    out: list[StatusResult] = []
    payer_id = member_id = ""
    trace: str | None = None
    stc: ClaimStatus | None = None
    refs: dict[str, str] = {}
    dates: tuple[dt.date, dt.date] | None = None

    def close() -> None:
        nonlocal trace, stc, refs, dates
        if trace is not None:
            if stc is None:
                raise X12Error(f"claim {trace} has no STC")
            status = replace(
                stc,
                payer_claim_number=refs.get("1K"),
                patient_control_number=refs.get("EJ"),
                service_from=dates[0] if dates else None,
                service_to=dates[1] if dates else None,
            )
            out.append(StatusResult(trace, status, payer_id, member_id))
        trace, stc, refs, dates = None, None, {}, None

    for n, seg in enumerate(segs, start=1):
        sid = seg[0].strip()
        if sid == "ST" and element(seg, 1) != "277":
            raise X12Error(f"ST01 {element(seg, 1)!r} is not 277", segment=n, position=1)
        if sid in ("HL", "SE"):
            close()
        elif sid == "NM1" and element(seg, 1) == "PR":
            payer_id = element(seg, 9)
        elif sid == "NM1" and element(seg, 1) == "IL":
            member_id = element(seg, 9)
        elif sid == "TRN" and element(seg, 1) == "2":
            close()
            trace = element(seg, 2)
        elif trace is None:
            continue
        elif sid == "STC" and stc is None:
            stc = _read_stc(seg, n, d)
        elif sid == "REF":
            refs.setdefault(element(seg, 1), element(seg, 2))
        elif sid == "DTP" and element(seg, 1) == "472":
            dates = period(seg, n)
    close()
    return out
