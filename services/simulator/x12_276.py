"""Claim status inquiries: the 276 (005010X212), written and read.

The 276 names a payer (2100A), an information receiver (2100B), a provider (2100C) and,
under a subscriber (2000D) or a dependent (2000E), one claim per 2200 loop: TRN*1 trace,
REF*1K payer claim number, REF*EJ patient account number (CLM01), AMT*T3 total charge,
DTP*472 service dates. The hierarchy is shared with the 277 that answers it
(:mod:`services.simulator.x12_277`).

Pure text over ``runtime.x12``. ``write_276`` is here so the simulator's own tests and
tools can speak both ends; the pipeline's claims service has its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from runtime.x12 import (
    Delimiters,
    Envelope,
    X12Error,
    cents,
    d8,
    money,
    segment,
    segments,
    transaction,
    wrap,
)
from services.simulator.model import Name

V276_277 = "005010X212"


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


def d8_text(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def service_dates(first: dt.date | None, last: dt.date | None, d: Delimiters) -> list[str]:
    if first is None:
        return []
    if last is None or last == first:
        return [segment("DTP", "472", "D8", d8_text(first), d=d)]
    return [segment("DTP", "472", "RD8", f"{d8_text(first)}-{d8_text(last)}", d=d)]


def _nm1(entity: str, kind: str, p: Party, d: Delimiters) -> str:
    return segment("NM1", entity, kind, p.name, p.first, "", "", "", p.qualifier, p.id, d=d)


def _person(entity: str, n: Name, qualifier: str | None, ident: str | None, d: Delimiters) -> str:
    return segment("NM1", entity, "1", n.last, n.first, "", "", "", qualifier, ident, d=d)


def hierarchy(items: Sequence[StatusInquiry], d: Delimiters, claim: list[list[str]]) -> list[str]:
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
        segs += service_dates(q.service_from, q.service_to, d)
        claims.append(segs)
    body = [
        segment("BHT", "0010", "13", reference, at.strftime("%Y%m%d"), at.strftime("%H%M"), d=d),
        *hierarchy(inquiries, d, claims),
    ]
    st = transaction("276", control_number, body, V276_277, d=d)
    return wrap(replace(envelope, functional_id="HR", version=V276_277, at=at), [st], d)


def element(seg: list[str], n: int) -> str:
    return seg[n].strip() if len(seg) > n else ""


def date_element(value: str, where: int) -> dt.date:
    try:
        return d8(value[:8])
    except ValueError:
        raise X12Error(f"not a date: {value!r}", segment=where) from None


def period(seg: list[str], where: int) -> tuple[dt.date, dt.date]:
    fmt, value = element(seg, 2), element(seg, 3)
    if fmt == "RD8":
        first, _, last = value.partition("-")
        return date_element(first, where), date_element(last or first, where)
    day = date_element(value, where)
    return day, day


def _inquiry(
    seg: list[str],
    n: int,
    parties: dict[str, Party],
    level: str,
    subscriber: Name,
    member_id: str,
    patient: Name | None,
) -> dict[str, object]:
    """The fields of the claim inquiry a TRN*1 starts, under the parties read so far."""
    if element(seg, 1) != "1" or not element(seg, 2):
        raise X12Error("a claim's TRN must be TRN*1*trace", segment=n, position=1)
    missing = [w for w in ("PR", "41", "1P") if w not in parties]
    if missing or level not in ("22", "23"):
        raise X12Error(
            f"claim trace outside a subscriber or dependent level (missing {missing})",
            segment=n,
        )
    return {
        "trace": element(seg, 2),
        "payer": parties["PR"],
        "receiver": parties["41"],
        "provider": parties["1P"],
        "subscriber": subscriber,
        "member_id": member_id,
        "patient": patient if level == "23" else None,
    }


def _claim_detail(current: dict[str, object], seg: list[str], n: int) -> None:
    """A claim's REF*1K, REF*EJ, AMT*T3 or first DTP*472, into the inquiry's fields."""
    sid = seg[0].strip()
    if sid == "REF" and element(seg, 1) == "1K":
        current["payer_claim_number"] = element(seg, 2) or None
    elif sid == "REF" and element(seg, 1) == "EJ":
        current["patient_control_number"] = element(seg, 2) or None
    elif sid == "AMT" and element(seg, 1) == "T3":
        try:
            current["charge_cents"] = cents(element(seg, 2))
        except ValueError:
            raise X12Error("AMT02 is not an amount", segment=n, position=2) from None
    elif sid == "DTP" and element(seg, 1) == "472" and "service_from" not in current:
        current["service_from"], current["service_to"] = period(seg, n)


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
            if element(seg, 1) != "276":
                raise X12Error(f"ST01 {element(seg, 1)!r} is not 276", segment=n, position=1)
            version = element(seg, 3)
            if version and version != V276_277:
                raise X12Error(f"unsupported version {version!r}", segment=n, position=3)
            seen_st = True
        elif sid == "BHT":
            reference = element(seg, 3)
        elif sid == "HL":
            close()
            level = element(seg, 3)
            if level not in ("20", "21", "19", "22", "23"):
                raise X12Error(f"unknown hierarchical level {level!r}", segment=n, position=3)
            if level in ("20", "21", "19", "22"):
                patient = None
        elif sid == "NM1":
            who = element(seg, 1)
            person = Name(element(seg, 3), element(seg, 4) or None)
            if who in ("PR", "41", "1P"):
                ident = element(seg, 9)
                if not ident:
                    raise X12Error(f"NM1*{who} has no identifier", segment=n, position=9)
                parties[who] = Party(
                    element(seg, 3), element(seg, 8), ident, element(seg, 4) or None
                )
            elif who == "IL":
                subscriber, member_id = person, element(seg, 9)
            elif who == "QC":
                patient = person
        elif sid == "TRN":
            close()
            current = _inquiry(seg, n, parties, level, subscriber, member_id, patient)
        elif current is None:
            continue
        elif sid in ("REF", "AMT", "DTP"):
            _claim_detail(current, seg, n)
        elif sid in ("SE", "SVC"):
            close()  # 2210 service lines are not looked at: the claim is the unit here
    close()
    if not seen_st:
        raise X12Error("no 276 transaction set", segment=2)
    if not inquiries:
        raise X12Error("the 276 asks about no claim (no TRN*1)", segment=len(segs))
    return StatusRequest(
        interchange_control_number=element(isa, 13),
        sender_id=element(isa, 6),
        receiver_id=element(isa, 8),
        reference=reference,
        inquiries=tuple(inquiries),
    )
