"""Claim status: 276 inquiries in, 277 responses out (005010X212).

The 276 names a payer (2100A), an information receiver (2100B), a provider (2100C) and,
under a subscriber (2000D) or a dependent (2000E), one claim per 2200 loop: TRN*1 trace,
REF*1K payer claim number, REF*EJ patient account number (CLM01), AMT*T3 total charge,
DTP*472 service dates. The 277 echoes that hierarchy and answers each claim with TRN*2
(the same trace) and an STC: category and status code, then the claim's charge, what
was paid, the adjudication date, the check (EFT) date and trace number.

Pure text over ``runtime.x12``. ``write_276`` and ``read_277`` are here so the
simulator's own tests and tools can speak both ends; the pipeline's claims service has
its own, written from the standard.
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
    d8,
    money,
    segment,
    segments,
    transaction,
    wrap,
)
from services.simulator.adjudicate import Name

V276_277 = "005010X212"

# Claim status category codes (code source 507) and status codes (code source 508).
RECEIVED = ("A1", "19")  # acknowledgement/receipt: entity acknowledges receipt
ACCEPTED = ("A2", "20")  # acknowledgement/acceptance into adjudication: accepted
NOT_FOUND = ("A4", "35")  # acknowledgement/not found: claim not found
PAID = ("F1", "65")  # finalized/payment: claim has been paid
DENIED = ("F2", "1")  # finalized/denial: see the remittance advice
NO_PAYMENT = ("F4", "104")  # finalized/no payment forthcoming: processed per plan provisions
REVERSED = ("F1", "1")  # finalized: reversed or corrected, see the remittance advice


@dataclass(frozen=True, slots=True)
class Party:
    """An NM1 entity: name, id qualifier (PI, 46, XX) and id."""

    name: str
    qualifier: str
    id: str
    first: str | None = None


@dataclass(frozen=True, slots=True)
class StatusInquiry:
    """One claim asked about (a 2200D or 2200E loop with its enclosing levels)."""

    trace: str
    payer: Party
    receiver: Party
    provider: Party
    subscriber: Name
    member_id: str
    patient: Name | None = None
    patient_control_number: str | None = None
    payer_claim_number: str | None = None
    charge_cents: int | None = None
    service_from: dt.date | None = None
    service_to: dt.date | None = None


@dataclass(frozen=True, slots=True)
class StatusRequest:
    interchange_control_number: str
    sender_id: str
    receiver_id: str
    reference: str
    inquiries: tuple[StatusInquiry, ...]


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


def _d8(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def _dates(first: dt.date | None, last: dt.date | None, d: Delimiters) -> list[str]:
    if first is None:
        return []
    if last is None or last == first:
        return [segment("DTP", "472", "D8", _d8(first), d=d)]
    return [segment("DTP", "472", "RD8", f"{_d8(first)}-{_d8(last)}", d=d)]


def _nm1(entity: str, kind: str, p: Party, d: Delimiters) -> str:
    return segment("NM1", entity, kind, p.name, p.first, "", "", "", p.qualifier, p.id, d=d)


def _person(entity: str, n: Name, qualifier: str | None, ident: str | None, d: Delimiters) -> str:
    return segment("NM1", entity, "1", n.last, n.first, "", "", "", qualifier, ident, d=d)


def _hierarchy(items: Sequence[StatusInquiry], d: Delimiters, claim: list[list[str]]) -> list[str]:
    """HL levels 20/21/19/22[/23] around each inquiry's claim segments (``claim[i]``)."""
    body: list[str] = []
    hl = 0
    prev: StatusInquiry | None = None
    at: dict[str, int] = {}
    for n, q in enumerate(items):
        new_payer = prev is None or q.payer != prev.payer
        new_receiver = new_payer or q.receiver != (prev.receiver if prev else None)
        new_provider = new_receiver or q.provider != (prev.provider if prev else None)
        new_subscriber = (
            new_provider
            or prev is None
            or (q.member_id, q.subscriber) != (prev.member_id, prev.subscriber)
            or q.patient is not None
            or prev.patient is not None
        )
        if new_payer:
            hl += 1
            at["20"] = hl
            body += [segment("HL", str(hl), "", "20", "1", d=d), _nm1("PR", "2", q.payer, d)]
        if new_receiver:
            hl += 1
            at["21"] = hl
            body += [
                segment("HL", str(hl), str(at["20"]), "21", "1", d=d),
                _nm1("41", "2", q.receiver, d),
            ]
        if new_provider:
            hl += 1
            at["19"] = hl
            body += [
                segment("HL", str(hl), str(at["21"]), "19", "1", d=d),
                _nm1("1P", "2", q.provider, d),
            ]
        if new_subscriber:
            hl += 1
            at["22"] = hl
            body += [
                segment("HL", str(hl), str(at["19"]), "22", "1" if q.patient else "0", d=d),
                _person("IL", q.subscriber, "MI", q.member_id, d),
            ]
        if q.patient is not None:
            hl += 1
            body += [
                segment("HL", str(hl), str(at["22"]), "23", d=d),
                _person("QC", q.patient, None, None, d),
            ]
        body += claim[n]
        prev = q
    return body


# --- 276 ------------------------------------------------------------------------------


def write_276(
    inquiries: Sequence[StatusInquiry],
    *,
    envelope: Envelope,
    reference: str,
    at: dt.datetime,
    control_number: str = "0001",
    d: Delimiters | None = None,
) -> str:
    """A 276 asking about each claim; consecutive claims share their enclosing levels."""
    d = d or Delimiters()
    if not inquiries:
        raise ValueError("a 276 needs at least one claim")
    claims: list[list[str]] = []
    for q in inquiries:
        segs = [segment("TRN", "1", q.trace, d=d)]
        if q.payer_claim_number:
            segs.append(segment("REF", "1K", q.payer_claim_number, d=d))
        if q.patient_control_number:
            segs.append(segment("REF", "EJ", q.patient_control_number, d=d))
        if q.charge_cents is not None:
            segs.append(segment("AMT", "T3", money(q.charge_cents), d=d))
        segs += _dates(q.service_from, q.service_to, d)
        claims.append(segs)
    body = [
        segment("BHT", "0010", "13", reference, at.strftime("%Y%m%d"), at.strftime("%H%M"), d=d),
        *_hierarchy(inquiries, d, claims),
    ]
    st = transaction("276", control_number, body, V276_277, d=d)
    return wrap(replace(envelope, functional_id="HR", version=V276_277, at=at), [st], d)


def _el(seg: list[str], n: int) -> str:
    return seg[n].strip() if len(seg) > n else ""


def _date(value: str, where: int) -> dt.date:
    try:
        return d8(value[:8])
    except ValueError:
        raise X12Error(f"not a date: {value!r}", segment=where) from None


def _period(seg: list[str], where: int) -> tuple[dt.date, dt.date]:
    fmt, value = _el(seg, 2), _el(seg, 3)
    if fmt == "RD8":
        first, _, last = value.partition("-")
        return _date(first, where), _date(last or first, where)
    day = _date(value, where)
    return day, day


def read_276(text: str) -> StatusRequest:
    """Every claim a 276 asks about; raises X12Error (naming the segment) if unreadable."""
    _, segs = segments(text)
    isa = segs[0]
    if isa[0] != "ISA" or len(isa) < 17:
        raise X12Error("interchange does not start with ISA", segment=1, position=0)
    parties: dict[str, Party] = {}
    subscriber = Name("UNKNOWN")
    member_id = ""
    patient: Name | None = None
    level = ""
    reference = ""
    seen_st = False
    inquiries: list[StatusInquiry] = []
    current: dict[str, object] | None = None

    def close() -> None:
        nonlocal current
        if current is not None:
            inquiries.append(StatusInquiry(**current))  # type: ignore[arg-type]
        current = None

    for n, seg in enumerate(segs, start=1):
        sid = seg[0].strip()
        if sid == "ST":
            if _el(seg, 1) != "276":
                raise X12Error(f"ST01 {_el(seg, 1)!r} is not 276", segment=n, position=1)
            version = _el(seg, 3)
            if version and version != V276_277:
                raise X12Error(f"unsupported version {version!r}", segment=n, position=3)
            seen_st = True
        elif sid == "BHT":
            reference = _el(seg, 3)
        elif sid == "HL":
            close()
            level = _el(seg, 3)
            if level not in ("20", "21", "19", "22", "23"):
                raise X12Error(f"unknown hierarchical level {level!r}", segment=n, position=3)
            if level in ("20", "21", "19", "22"):
                patient = None
        elif sid == "NM1":
            who = _el(seg, 1)
            person = Name(_el(seg, 3), _el(seg, 4) or None)
            if who in ("PR", "41", "1P"):
                ident = _el(seg, 9)
                if not ident:
                    raise X12Error(f"NM1*{who} has no identifier", segment=n, position=9)
                parties[who] = Party(_el(seg, 3), _el(seg, 8), ident, _el(seg, 4) or None)
            elif who == "IL":
                subscriber, member_id = person, _el(seg, 9)
            elif who == "QC":
                patient = person
        elif sid == "TRN":
            close()
            if _el(seg, 1) != "1" or not _el(seg, 2):
                raise X12Error("a claim's TRN must be TRN*1*trace", segment=n, position=1)
            missing = [w for w in ("PR", "41", "1P") if w not in parties]
            if missing or level not in ("22", "23"):
                raise X12Error(
                    f"claim trace outside a subscriber or dependent level (missing {missing})",
                    segment=n,
                )
            current = {
                "trace": _el(seg, 2),
                "payer": parties["PR"],
                "receiver": parties["41"],
                "provider": parties["1P"],
                "subscriber": subscriber,
                "member_id": member_id,
                "patient": patient if level == "23" else None,
            }
        elif current is None:
            continue
        elif sid == "REF" and _el(seg, 1) == "1K":
            current["payer_claim_number"] = _el(seg, 2) or None
        elif sid == "REF" and _el(seg, 1) == "EJ":
            current["patient_control_number"] = _el(seg, 2) or None
        elif sid == "AMT" and _el(seg, 1) == "T3":
            try:
                current["charge_cents"] = cents(_el(seg, 2))
            except ValueError:
                raise X12Error("AMT02 is not an amount", segment=n, position=2) from None
        elif sid == "DTP" and _el(seg, 1) == "472" and "service_from" not in current:
            current["service_from"], current["service_to"] = _period(seg, n)
        elif sid in ("SE", "SVC"):
            close()  # 2210 service lines are not looked at: the claim is the unit here
    close()
    if not seen_st:
        raise X12Error("no 276 transaction set", segment=2)
    if not inquiries:
        raise X12Error("the 276 asks about no claim (no TRN*1)", segment=len(segs))
    return StatusRequest(
        interchange_control_number=_el(isa, 13),
        sender_id=_el(isa, 6),
        receiver_id=_el(isa, 8),
        reference=reference,
        inquiries=tuple(inquiries),
    )


# --- 277 ------------------------------------------------------------------------------


def _stc(s: ClaimStatus, d: Delimiters) -> str:
    return segment(
        "STC",
        composite(s.category, s.code, d=d),
        _d8(s.effective),
        "",
        money(s.charge_cents) if s.charge_cents is not None else None,
        money(s.paid_cents) if s.paid_cents is not None else None,
        _d8(s.adjudicated) if s.adjudicated else None,
        "",
        _d8(s.check_date) if s.check_date else None,
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
        segs += _dates(s.service_from or q.service_from, s.service_to or q.service_to, d)
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
        *_hierarchy(request.inquiries, d, claims),
    ]
    st = transaction("277", control_number, body, V276_277, d=d)
    return wrap(replace(envelope, functional_id="HN", version=V276_277, at=at), [st], d)


def _read_stc(seg: list[str], n: int, d: Delimiters) -> ClaimStatus:
    category, code, *_ = [*_el(seg, 1).split(d.component), ""]

    def amt(i: int) -> int | None:
        v = _el(seg, i)
        try:
            return cents(v) if v else None
        except ValueError:
            raise X12Error(f"STC{i:02d} is not an amount", segment=n, position=i) from None

    def day(i: int) -> dt.date | None:
        v = _el(seg, i)
        return _date(v, n) if v else None

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
        check_number=_el(seg, 9) or None,
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
        if sid == "ST" and _el(seg, 1) != "277":
            raise X12Error(f"ST01 {_el(seg, 1)!r} is not 277", segment=n, position=1)
        if sid in ("HL", "SE"):
            close()
        elif sid == "NM1" and _el(seg, 1) == "PR":
            payer_id = _el(seg, 9)
        elif sid == "NM1" and _el(seg, 1) == "IL":
            member_id = _el(seg, 9)
        elif sid == "TRN" and _el(seg, 1) == "2":
            close()
            trace = _el(seg, 2)
        elif trace is None:
            continue
        elif sid == "STC" and stc is None:
            stc = _read_stc(seg, n, d)
        elif sid == "REF":
            refs.setdefault(_el(seg, 1), _el(seg, 2))
        elif sid == "DTP" and _el(seg, 1) == "472":
            dates = _period(seg, n)
    close()
    return out
