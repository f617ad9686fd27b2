"""Real-time eligibility in X12: the 270 inquiry read, the 271 answer written
(005010X279A1). Pure text over ``runtime.x12``; what the answer says is decided by
:func:`services.simulator.coverage.judge` from the payer's roster."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from runtime.x12 import (
    Delimiters,
    Envelope,
    X12Error,
    d8_element,
    delimiters_of,
    iter_segments,
    money,
    segment,
    transaction,
    wrap,
)
from services.simulator.coverage import Enrollment, Met, Verdict
from services.simulator.payers import PAYERS, PayerPlan

V271 = "005010X279A1"


@dataclass(slots=True)
class Person270:
    last: str = ""
    first: str = ""
    birth_date: dt.date | None = None
    sex: str = ""


@dataclass(slots=True)
class Inquiry270:
    sender_qualifier: str = "ZZ"
    sender_id: str = ""
    reference: str = ""
    payer_id: str = ""
    payer_name: str = ""
    provider_name: str = ""
    provider_npi: str = ""
    member_id: str = ""
    trace: str = ""
    originator: str = ""
    subscriber: Person270 = field(default_factory=Person270)
    dependent: Person270 | None = None
    date_of_service: dt.date | None = None
    service_types: list[str] = field(default_factory=list)


def _el(seg: list[str], pos: int) -> str:
    return seg[pos] if pos < len(seg) else ""


def read_270(text: str) -> Inquiry270:
    """The one inquiry of a real-time 270. X12Error names what is wrong and where."""
    head = text.lstrip(" \t\r\n\ufeff")
    if not head.startswith("ISA"):
        raise X12Error("not X12: no ISA at the start", segment=1, position=0)
    d = delimiters_of(head)
    inq = Inquiry270()
    level = ""
    seen_st = False
    for n, seg in enumerate(iter_segments(head, d), 1):
        sid = seg[0]
        if sid == "ISA":
            inq.sender_qualifier, inq.sender_id = _el(seg, 5).strip(), _el(seg, 6).strip()
        elif sid == "ST":
            if _el(seg, 1) != "270":
                raise X12Error(f"expected a 270, found ST01 {_el(seg, 1)[:10]!r}", segment=n)
            seen_st = True
        elif sid == "BHT":
            inq.reference = _el(seg, 3)
        elif sid == "HL":
            level = _el(seg, 3)
        elif sid == "NM1":
            qual = _el(seg, 1)
            if qual == "PR":
                inq.payer_name, inq.payer_id = _el(seg, 3), _el(seg, 9)
            elif qual == "1P":
                inq.provider_name, inq.provider_npi = _el(seg, 3), _el(seg, 9)
            elif qual == "IL":
                inq.member_id = _el(seg, 9)
                inq.subscriber.last, inq.subscriber.first = _el(seg, 3), _el(seg, 4)
            elif qual == "03":
                inq.dependent = Person270(_el(seg, 3), _el(seg, 4))
        elif sid == "TRN" and _el(seg, 1) == "1":
            inq.trace, inq.originator = _el(seg, 2), _el(seg, 3)
        elif sid == "DMG" and _el(seg, 2):
            who = inq.dependent if level == "23" and inq.dependent else inq.subscriber
            who.birth_date = d8_element(seg[2], seg, 2, n)
            who.sex = _el(seg, 3)
        elif sid == "DTP" and _el(seg, 1) == "291":
            inq.date_of_service = d8_element(_el(seg, 3)[:8], seg, 3, n)
        elif sid == "EQ":
            inq.service_types.extend(s for s in _el(seg, 1).split(d.repetition) if s)
    if not seen_st:
        raise X12Error("no 270 transaction (no ST)")
    if not inq.payer_id:
        raise X12Error("no payer id (NM1*PR NM109)")
    if not inq.trace:
        raise X12Error("no trace number (TRN*1)")
    return inq


def _fraction(rate: Decimal) -> str:
    text = format(rate.normalize(), "f")
    return text[1:] if text.startswith("0.") else text


def _benefits(plan: PayerPlan, met: Met) -> list[str]:
    b = plan.benefits
    eb: list[str] = [segment("EB", "1", "IND", "30", "", plan.plan)]
    if b.deductible_cents:
        left = max(0, b.deductible_cents - met.deductible_met_cents)
        eb += [
            segment(
                "EB", "C", "IND", "30", "", "", "23", money(b.deductible_cents), *[""] * 4, "Y"
            ),
            segment("EB", "C", "IND", "30", "", "", "29", money(left), *[""] * 4, "Y"),
            segment(
                "EB", "C", "IND", "30", "", "", "23", money(2 * b.deductible_cents), *[""] * 4, "N"
            ),
        ]
    if b.coinsurance:
        eb.append(
            segment(
                "EB", "A", "IND", "30", "", "", "", "", _fraction(b.coinsurance), *[""] * 3, "Y"
            )
        )
    if b.copay_cents:
        eb.append(
            segment("EB", "B", "IND", "98", "", "", "27", money(b.copay_cents), *[""] * 4, "Y")
        )
    eb.append(segment("EB", "B", "IND", "BZ", "", "", "27", "0", *[""] * 4, "Y"))
    if b.oop_max_cents is not None:
        left = max(0, b.oop_max_cents - met.oop_met_cents)
        eb += [
            segment("EB", "G", "IND", "30", "", "", "23", money(b.oop_max_cents), *[""] * 4, "Y"),
            segment("EB", "G", "IND", "30", "", "", "29", money(left), *[""] * 4, "Y"),
        ]
    return eb


def write_271(
    inq: Inquiry270,
    verdict: Verdict,
    enr: Enrollment | None,
    met: Met,
    *,
    envelope: Envelope,
    patient_unknown_final: bool = False,
) -> str:
    """The 271 for one inquiry. ``patient_unknown_final``: the grace for an unknown member
    is over, so say not found (75/67) instead of unable to respond (42)."""
    at = envelope.at or dt.datetime.now(dt.UTC)
    dos = inq.date_of_service or at.date()
    body = [
        segment("BHT", "0022", "11", inq.reference, f"{at:%Y%m%d}", f"{at:%H%M}"),
        segment("HL", "1", "", "20", "1"),
        segment("NM1", "PR", "2", inq.payer_name or "UNKNOWN PAYER", *[""] * 4, "PI", inq.payer_id),
    ]
    if verdict == "no-payer":
        body.append(segment("AAA", "N", "", "79", "C"))
        return _wrap(body, envelope, at)
    dependent = inq.dependent
    body += [
        segment("HL", "2", "1", "21", "1"),
        segment("NM1", "1P", "2", inq.provider_name, *[""] * 4, "XX", inq.provider_npi),
        segment("HL", "3", "2", "22", "1" if dependent else "0"),
    ]
    trn = segment("TRN", "2", inq.trace, inq.originator or "9SIMCLEARH")
    sub = inq.subscriber
    name = segment("NM1", "IL", "1", sub.last, sub.first, "", "", "", "MI", inq.member_id)
    if dependent is None:
        body += [trn, name]
    else:
        body.append(name)
    sub_dmg = [segment("DMG", "D8", f"{sub.birth_date:%Y%m%d}", sub.sex)] if sub.birth_date else []
    if verdict in ("bad-id", "dob-mismatch") or (verdict == "unknown" and dependent is None):
        code = {"bad-id": "72", "dob-mismatch": "71"}.get(
            verdict, "75" if patient_unknown_final else "42"
        )
        follow = "R" if code == "42" else "C"
        body += [segment("AAA", "Y" if code == "42" else "N", "", code, follow), *sub_dmg]
        return _wrap(body, envelope, at)
    body += sub_dmg
    if dependent is not None:
        body += [segment("HL", "4", "3", "23", "0"), trn]
        body.append(segment("NM1", "03", "1", dependent.last, dependent.first))
        if verdict == "unknown":
            code = "67" if patient_unknown_final else "42"
            body.append(segment("AAA", "Y", "", code, "C" if code == "67" else "R"))
            return _wrap(body, envelope, at)
        if dependent.birth_date:
            body.append(segment("DMG", "D8", f"{dependent.birth_date:%Y%m%d}", dependent.sex))
        body.append(segment("INS", "N", "19"))
    assert enr is not None
    body.append(segment("DTP", "346", "D8", f"{enr.effective_date:%Y%m%d}"))
    if enr.termination_date is not None:
        body.append(segment("DTP", "347", "D8", f"{enr.termination_date:%Y%m%d}"))
    in_force = enr.effective_date <= dos and (
        enr.termination_date is None or dos <= enr.termination_date
    )
    if not in_force:
        body.append(segment("EB", "6", "IND", "30", "", enr.plan))
    else:
        body += _benefits(PAYERS[enr.payer_id], met)
    return _wrap(body, envelope, at)


def _wrap(body: list[str], envelope: Envelope, at: dt.datetime) -> str:
    env = Envelope(
        sender_qualifier=envelope.sender_qualifier,
        sender_id=envelope.sender_id,
        receiver_qualifier=envelope.receiver_qualifier,
        receiver_id=envelope.receiver_id,
        functional_id="HB",
        version=V271,
        interchange_control_number=envelope.interchange_control_number,
        group_control_number=envelope.group_control_number,
        usage=envelope.usage,
        at=at,
    )
    return wrap(env, [transaction("271", "0001", body, V271)], Delimiters())
