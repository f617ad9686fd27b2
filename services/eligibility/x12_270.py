"""X12 5010 270 (005010X279A1) writer: one real-time eligibility inquiry per interchange.

CAQH CORE real-time exchanges carry one inquiry per 270, so the writer takes one
:class:`Inquiry`: the payer (2100A), the billing provider as information receiver
(2100B, NPI), the subscriber (2100C, member id) and, when the patient is not the
subscriber and has no member id of their own, the dependent (2000D/2100D). The
service types asked about go on EQ segments of the patient's loop: 30 (health
benefit plan coverage) always, plus the visit's own types.

The trace number (TRN02 of loop 2000C/2000D, 2 in the answer) ties a 271 to
the inquiry that asked; the reader checks it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from runtime.settings import Settings
from runtime.x12 import Envelope, segment, transaction, wrap

VERSION = "005010X279A1"
GENERIC = "30"

#: Visit type -> service types asked about besides 30 (X12 1365 codes).
VISIT_SERVICE_TYPES: dict[str, tuple[str, ...]] = {
    "preventive": ("BZ",),  # physician visit - office: well
    "problem": ("98",),  # professional (physician) visit - office
    "chronic": ("98",),
    "procedure": ("98",),
    "nurse": ("1",),  # medical care
}


@dataclass(frozen=True, slots=True)
class Name:
    last: str
    first: str | None
    birth_date: dt.date | None = None
    sex: str | None = None


@dataclass(frozen=True, slots=True)
class Inquiry:
    trace: str
    originator: str  # TRN03: '9' + nine characters, the inquirer's own id
    payer_id: str
    payer_name: str
    provider_name: str
    provider_npi: str
    subscriber: Name
    member_id: str
    group_number: str | None
    date_of_service: dt.date
    service_types: tuple[str, ...] = (GENERIC,)
    dependent: Name | None = None
    relationship: str | None = None  # INS02 of the dependent: 01, 19, 34


def _upper(text: str | None, limit: int) -> str | None:
    return text.upper()[:limit] if text else None


def _person(n: Name) -> list[str]:
    out: list[str] = []
    if n.birth_date is not None:
        out.append(segment("DMG", "D8", f"{n.birth_date:%Y%m%d}", n.sex))
    return out


def write_270(inq: Inquiry, *, envelope: Envelope, control: str = "0001") -> str:
    """The inquiry as an interchange; ``envelope`` gives ISA/GS ids and control numbers."""
    at = envelope.at or dt.datetime.now(dt.UTC)
    dos = f"{inq.date_of_service:%Y%m%d}"
    asks = [segment("EQ", code) for code in dict.fromkeys((GENERIC, *inq.service_types))]
    sub = inq.subscriber
    has_dependent = inq.dependent is not None
    body = [
        segment("BHT", "0022", "13", inq.trace, f"{at:%Y%m%d}", f"{at:%H%M}"),
        segment("HL", "1", "", "20", "1"),
        segment("NM1", "PR", "2", _upper(inq.payer_name, 60), "", "", "", "", "PI", inq.payer_id),
        segment("HL", "2", "1", "21", "1"),
        segment(
            "NM1", "1P", "2", _upper(inq.provider_name, 60), "", "", "", "", "XX", inq.provider_npi
        ),
        segment("HL", "3", "2", "22", "1" if has_dependent else "0"),
    ]
    if not has_dependent:
        body.append(segment("TRN", "1", inq.trace, inq.originator))
    body.append(
        segment(
            "NM1",
            "IL",
            "1",
            _upper(sub.last, 60),
            _upper(sub.first, 35),
            "",
            "",
            "",
            "MI",
            inq.member_id,
        )
    )
    if inq.group_number:
        body.append(segment("REF", "6P", inq.group_number))
    body += _person(sub)
    if inq.dependent is None:
        body.append(segment("DTP", "291", "D8", dos))
        body += asks
    else:
        dep = inq.dependent
        body += [
            segment("HL", "4", "3", "23", "0"),
            segment("TRN", "1", inq.trace, inq.originator),
            segment("NM1", "03", "1", _upper(dep.last, 60), _upper(dep.first, 35)),
            *_person(dep),
        ]
        if inq.relationship in ("01", "19", "34"):
            body.append(segment("INS", "N", inq.relationship))
        body.append(segment("DTP", "291", "D8", dos))
        body += asks
    envelope = Envelope(
        sender_qualifier=envelope.sender_qualifier,
        sender_id=envelope.sender_id,
        receiver_qualifier=envelope.receiver_qualifier,
        receiver_id=envelope.receiver_id,
        functional_id="HS",
        version=VERSION,
        interchange_control_number=envelope.interchange_control_number,
        group_control_number=envelope.group_control_number,
        usage=envelope.usage,
        at=at,
    )
    return wrap(envelope, [transaction("270", control, body, VERSION)])


def envelope_for(s: Settings, icn: int) -> Envelope:
    """The envelope of one real-time 270 (our submitter and the clearinghouse's receiver
    ids from settings; the inquiry's control number as both ISA13 and GS06)."""
    return Envelope(
        sender_qualifier="ZZ",
        sender_id=s.x12_submitter_id,
        receiver_qualifier="ZZ",
        receiver_id=s.x12_receiver_id,
        functional_id="HS",
        version="",
        interchange_control_number=icn,
        group_control_number=icn,
        usage=s.x12_usage,
    )
