"""X12 5010 276 claim status request (005010X212) for one claim, and its 277 answer.

Pure: strings in, strings out. The 276 asks the payer about one claim we sent: the
payer (2000A), us as information receiver (2000B), the billing provider (2000C), the
subscriber (2000D) and, for a dependent, the patient (2000E), then the claim's trace,
payer claim number (REF*1K) when known, CLM01 (REF*EJ), total charge and date of
service. The 277 answer is read down to its STC statuses.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from runtime.x12 import (
    Envelope,
    Warnings,
    X12Error,
    X12Warning,
    begin,
    cents,
    money,
    read_segments,
    transaction,
    wrap,
)
from schemas.common import Coverage, Person, Provider
from schemas.events import ClaimCoded
from services.claims.x12_837 import Party
from services.claims.x12_837_text import Unbuildable, _clean, _ident

VERSION = "005010X212"

# STC01-1 claim status category, by its first letter (code list 507).
FAMILIES = {
    "A": "acknowledged",
    "P": "pending",
    "F": "finalized",
    "R": "more information requested",
    "E": "response not possible",
    "D": "claim not found",
}


def _seg(*elements: str) -> str:
    return "*".join(elements).rstrip("*") + "~"


def _name(value: str, claim_id: str, field: str) -> str:
    out = _clean(value)
    if not out:
        raise Unbuildable(claim_id, field, "is empty once made X12-safe")
    return out


def _provider(bp: Provider, cid: str) -> str:
    """The billing provider's NM1*1P: a person (1) or an organisation (2)."""
    if bp.first_name:
        last = _name(bp.name, cid, "billing_provider.name")
        first = _name(bp.first_name, cid, "billing_provider.first_name")
        return _seg("NM1", "1P", "1", last, first, "", "", "", "XX", bp.npi)
    name = _name(bp.name, cid, "billing_provider.name")
    return _seg("NM1", "1P", "2", name, "", "", "", "", "XX", bp.npi)


def _people(claim: ClaimCoded, cov: Coverage, subscriber: Person, dependent: bool) -> list[str]:
    """The subscriber (2000D), and the patient (2000E) when not the subscriber."""
    cid = claim.claim_id
    segs: list[str] = []
    if not dependent:
        segs.append(
            _seg("DMG", "D8", subscriber.birth_date.strftime("%Y%m%d"), subscriber.sex.value)
        )
    last = _name(subscriber.last_name, cid, "subscriber.last_name")
    first = _name(subscriber.first_name, cid, "subscriber.first_name")
    member = _ident(cov.member_id, cid, "coverage.member_id")
    segs.append(_seg("NM1", "IL", "1", last, first, "", "", "", "MI", member))
    if dependent:
        p = claim.patient
        segs += [
            _seg("HL", "5", "4", "23"),
            _seg("DMG", "D8", p.birth_date.strftime("%Y%m%d"), p.sex.value),
            _seg(
                "NM1",
                "QC",
                "1",
                _name(p.last_name, cid, "patient.last_name"),
                _name(p.first_name, cid, "patient.first_name"),
            ),
        ]
    return segs


def _claim_asked(
    claim: ClaimCoded, trace: str, payer_claim_number: str | None, patient_control_number: str
) -> list[str]:
    """The claim asked about: trace, its numbers, its charge and its service dates."""
    cid = claim.claim_id
    segs = [_seg("TRN", "1", _ident(trace, cid, "trace"))]
    if payer_claim_number:
        segs.append(_seg("REF", "1K", _ident(payer_claim_number, cid, "payer_claim_number")))
    segs.append(_seg("REF", "EJ", _ident(patient_control_number, cid, "patient_control_number")))
    segs.append(_seg("AMT", "T3", money(claim.total_charge_cents)))
    first = min(line.service_date for line in claim.lines)
    last = max(line.service_date for line in claim.lines)
    if first == last:
        segs.append(_seg("DTP", "472", "D8", first.strftime("%Y%m%d")))
    else:
        segs.append(
            _seg("DTP", "472", "RD8", f"{first.strftime('%Y%m%d')}-{last.strftime('%Y%m%d')}")
        )
    return segs


def render_276(
    claim: ClaimCoded,
    *,
    patient_control_number: str,
    payer_claim_number: str | None,
    trace: str,
    interchange: int,
    group: int,
    submitter: Party,
    receiver: Party,
    at: dt.datetime,
    usage: str = "T",
) -> str:
    """One 276 interchange asking the status of one claim; Unbuildable when it cannot be."""
    cid = claim.claim_id
    cov = claim.coverage
    if cov is None:
        raise Unbuildable(cid, "coverage", "is absent: no payer to ask")
    dependent = cov.relationship.value != "18"
    subscriber = cov.subscriber if dependent else claim.patient
    if subscriber is None:
        raise Unbuildable(cid, "coverage.subscriber")
    payer_id = _ident(cov.payer_id, cid, "coverage.payer_id")
    provider = _provider(claim.billing_provider, cid)
    payer_name = _name(cov.payer_name, cid, "coverage.payer_name")
    submitter_name = _name(submitter.name, "-", "submitter.name")
    st = "0001"
    segs = [
        _seg("BHT", "0010", "13", trace, at.strftime("%Y%m%d"), at.strftime("%H%M")),
        _seg("HL", "1", "", "20", "1"),
        _seg("NM1", "PR", "2", payer_name, "", "", "", "", "PI", payer_id),
        _seg("HL", "2", "1", "21", "1"),
        _seg("NM1", "41", "2", submitter_name, "", "", "", "", "46", submitter.id),
        _seg("HL", "3", "2", "19", "1"),
        provider,
        _seg("HL", "4", "3", "22", "1" if dependent else "0"),
        *_people(claim, cov, subscriber, dependent),
        *_claim_asked(claim, trace, payer_claim_number, patient_control_number),
    ]
    envelope = Envelope(
        sender_qualifier=submitter.qualifier,
        sender_id=submitter.interchange_id,
        receiver_qualifier=receiver.qualifier,
        receiver_id=receiver.interchange_id,
        functional_id="HR",
        version=VERSION,
        interchange_control_number=interchange,
        group_control_number=group,
        usage=usage,
        at=at,
        gs_sender=submitter.gs_code,
        gs_receiver=receiver.gs_code,
    )
    return wrap(envelope, [transaction("276", st, segs, VERSION)])


@dataclass(frozen=True, slots=True)
class ClaimStatus:
    """One STC of a 277: category (STC01-1), status (STC01-2), entity (STC01-3)."""

    category: str
    code: str
    entity: str
    effective: str
    charge_cents: int | None
    paid_cents: int | None

    @property
    def family(self) -> str:
        return FAMILIES.get(self.category[:1], "unknown")

    def as_dict(self) -> dict[str, object]:
        return {
            "category": self.category,
            "code": self.code,
            "entity": self.entity,
            "family": self.family,
            "effective": self.effective,
            "charge_cents": self.charge_cents,
            "paid_cents": self.paid_cents,
        }


@dataclass(frozen=True, slots=True)
class StatusAnswer:
    """What a 277 says about the claims it names, keyed by the trace (TRN02) we sent."""

    traces: list[str]
    statuses: list[ClaimStatus]
    payer_claim_number: str | None
    patient_control_number: str | None
    #: faults read through (runtime.x12.X12Warning), in file order
    warnings: tuple[X12Warning, ...] = ()


def _cents(text: str) -> int | None:
    if not text:
        return None
    try:
        return cents(text)
    except ValueError:
        return None


_CATEGORY = re.compile(r"[A-Z][0-9]{1,2}")
_SEPARATORS = ":>^<|\\!}{"


def _stc01(seg: list[str], n: int, comp: str, w: Warnings) -> list[str]:
    """STC01 split at the component separator; one written with another separator than
    ISA16 declares is split there, with a warning, when its first part is a category."""
    text = seg[1]
    if comp not in text:
        others = [c for c in _SEPARATORS if c != comp and c in text]
        if len(others) == 1 and _CATEGORY.fullmatch(text.split(others[0])[0]):
            w.add(
                n, "STC", 1,
                f"STC01 {text[:40]!r} separates its components with {others[0]!r}, "
                f"ISA16 declares {comp!r}",
            )  # fmt: skip
            return text.split(others[0])
    return text.split(comp)


def read_277(text: str) -> StatusAnswer:
    """Reads a 277 claim status response; raises X12Error when it is not one. Reads
    through spaces between segments, lower-case ids, an unpadded ISA, no terminator after
    the last IEA and an STC01 with another component separator, each a warning."""
    w = Warnings()
    head, d = begin(text, w)
    segs = list(read_segments(head, d, w))
    if not segs or segs[-1][0] != "IEA":
        raise X12Error("truncated interchange: no IEA trailer", segment=len(segs), position=0)
    st = next((s for s in segs if s[0] == "ST"), None)
    if st is None or len(st) < 2 or st[1] != "277":
        raise X12Error("not a 277 claim status response")
    traces: list[str] = []
    statuses: list[ClaimStatus] = []
    pcn: str | None = None
    payer_claim: str | None = None
    for n, s in enumerate(segs, 1):
        tag = s[0]
        if tag == "TRN" and len(s) > 2 and s[1] == "2":
            traces.append(s[2])
        elif tag == "STC" and len(s) > 1:
            parts = _stc01(s, n, d.component, w)
            statuses.append(
                ClaimStatus(
                    category=parts[0],
                    code=parts[1] if len(parts) > 1 else "",
                    entity=parts[2] if len(parts) > 2 else "",
                    effective=s[2] if len(s) > 2 else "",
                    charge_cents=_cents(s[4]) if len(s) > 4 else None,
                    paid_cents=_cents(s[5]) if len(s) > 5 else None,
                )
            )
        elif tag == "REF" and len(s) > 2 and s[1] == "1K":
            payer_claim = s[2]
        elif tag == "REF" and len(s) > 2 and s[1] == "EJ":
            pcn = s[2]
    if not statuses:
        raise X12Error("277 carries no claim status (STC)")
    return StatusAnswer(traces, statuses, payer_claim, pcn, w.result())
