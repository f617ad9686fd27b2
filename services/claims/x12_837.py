"""X12 5010 837P (005010X222A1) writer: coded claims to one interchange per payer.

Pure string building, no I/O and no pydantic round trips. Every claim in one call
goes to one payer in one interchange with one ST/SE. The hierarchy is

    2000A billing provider (HL 20)
      2000B subscriber (HL 22)          claims here when the patient is the subscriber
        2000C patient (HL 23)           claims here when the patient is a dependent

Claims sharing a billing provider, subscriber or patient share that HL; the
grouping key is the rendered loop text itself, so two claims share a loop only
when it would be written identically.

A claim that cannot be written (missing coverage, billing tax id, address, ...)
raises :class:`Unbuildable` naming the claim and the field, so the claims service
can hold it with that reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from runtime.x12 import Envelope, money, transaction, wrap
from schemas.common import Coverage, Person, Provider
from schemas.events import ClaimCoded
from services.claims import x12_837_cob as cob_loops
from services.claims import x12_837_refs as refs
from services.claims.cob import Cob
from services.claims.payers import Payer
from services.claims.x12_837_text import _DELIMS, _address, _code, _d8, _ident, _person_name
from services.claims.x12_837_text import Unbuildable as Unbuildable
from services.claims.x12_837_text import _seg as _seg
from services.claims.x12_837_text import _text as _text
from services.claims.x12_837_text import filing_indicator as filing_indicator

VERSION = "005010X222A1"
_MAX_CONTROL = 999_999_999


@dataclass(frozen=True, slots=True)
class Party:
    """Submitter or receiver: NM1*41 / NM1*40 (name, id); ISA05-08 (qualifier, and
    ``isa_id``, else id) and GS02/03 (``gs_code``, else the ISA id): a trading partner's
    identity (services/claims/partners.py) can tell them apart."""

    name: str
    id: str
    qualifier: str = "ZZ"
    isa_id: str = ""
    gs_code: str = ""

    @property
    def interchange_id(self) -> str:
        return self.isa_id or self.id


@dataclass(frozen=True, slots=True)
class ControlNumbers:
    """ISA13, GS06 and ST02 of the interchange."""

    interchange: int
    group: int
    transaction_start: int


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A claim to send: frequency 1 original, 7 replacement, 8 void (REF*F8 required on 7/8)."""

    claim: ClaimCoded
    frequency_code: str = "1"
    payer_claim_number: str | None = None
    cob: Cob | None = None  # to a later payer: the earlier payers' answers (2320, 2430)


def to_later_payer(out: Outgoing) -> bool:
    """Is the claim billed to a payer after one that answered (a secondary or tertiary)?
    Its authorization and referral numbers are then the first payer's (the payer whose
    rules asked for them): 2330B, not 2300/2400, carries them."""
    return out.cob is not None and bool(out.cob.prior)


def payers_named(out: Outgoing) -> list[str]:
    """The payer ids the claim's 837P names, the billed payer first."""
    cov = out.claim.coverage
    ids = [cov.payer_id] if cov is not None else []
    if out.cob is not None:
        ids += [p.coverage.payer_id for p in out.cob.prior]
        ids += [c.payer_id for c in out.cob.later]
    return list(dict.fromkeys(ids))


def with_filing_indicators(out: Outgoing, payers: Mapping[str, Payer]) -> Outgoing:
    """The claim with each coverage's SBR09 taken from the payer directory."""

    def filed(cov: Coverage) -> Coverage:
        return cov.model_copy(update={"filing_indicator": payers[cov.payer_id].filing_indicator})

    claim = out.claim
    if claim.coverage is not None:
        claim = claim.model_copy(update={"coverage": filed(claim.coverage)})
    cob = out.cob
    if cob is not None:
        cob = cob.model_copy(
            update={
                "coverage": filed(cob.coverage),
                "prior": [p.model_copy(update={"coverage": filed(p.coverage)}) for p in cob.prior],
                "later": [filed(c) for c in cob.later],
            }
        )
    return dataclasses.replace(out, claim=claim, cob=cob)


def _dmg(person: Person) -> str:
    return _seg("DMG", "D8", _d8(person.birth_date), person.sex.value)


def _provider_nm1(entity: str, provider: Provider, claim_id: str, field: str) -> str:
    name = _text(provider.name, claim_id, f"{field}.name")
    if provider.first_name:
        first = _text(provider.first_name, claim_id, f"{field}.first_name")
        return _seg("NM1", entity, "1", name, first, "", "", "", "XX", provider.npi)
    return _seg("NM1", entity, "2", name, "", "", "", "", "XX", provider.npi)


def _billing_loop(claim: ClaimCoded) -> list[str]:
    """2000A (after HL) and 2010AA: PRV, NM1*85, N3, N4, REF*EI."""
    bp = claim.billing_provider
    cid = claim.claim_id
    if bp.address is None:
        raise Unbuildable(cid, "billing_provider.address")
    if bp.tax_id is None:
        raise Unbuildable(cid, "billing_provider.tax_id")
    if len(bp.address.postal_code) != 9:
        raise Unbuildable(
            cid,
            "billing_provider.address.postal_code",
            f"must be the full 9-digit ZIP+4 on an 837P, got {bp.address.postal_code!r}",
        )
    segs = [_seg("PRV", "BI", "PXC", bp.taxonomy)] if bp.taxonomy else []
    segs.append(_provider_nm1("85", bp, cid, "billing_provider"))
    segs.extend(_address(bp.address, cid, "billing_provider.address"))
    segs.append(_seg("REF", "EI", bp.tax_id))
    return segs


def _subscriber_loop(claim: ClaimCoded, dependent: bool) -> list[str]:
    """2000B (after HL): SBR, 2010BA subscriber, 2010BB payer."""
    cov = claim.coverage
    assert cov is not None  # checked by the caller
    cid = claim.claim_id
    subscriber = cov.subscriber if dependent else claim.patient
    assert subscriber is not None
    field = "coverage.subscriber" if dependent else "patient"
    last, first = _person_name(subscriber, cid, field)
    payer_id = _ident(cov.payer_id, cid, "coverage.payer_id")
    priority = "PST"[cov.priority - 1]
    group = _ident(cov.group_number, cid, "coverage.group_number") if cov.group_number else ""
    return [
        _seg(
            "SBR",
            priority,
            "" if dependent else "18",
            group,
            "",
            "",
            "",
            "",
            "",
            filing_indicator(cov, cid),
        ),
        _seg(
            "NM1",
            "IL",
            "1",
            last,
            first,
            "",
            "",
            "",
            "MI",
            _ident(cov.member_id, cid, "coverage.member_id"),
        ),
        *_address(subscriber.address, cid, f"{field}.address"),
        _dmg(subscriber),
        _seg(
            "NM1",
            "PR",
            "2",
            _text(cov.payer_name, cid, "coverage.payer_name"),
            "",
            "",
            "",
            "",
            "PI",
            payer_id,
        ),
    ]


def _patient_loop(claim: ClaimCoded) -> list[str]:
    """2000C (after HL): PAT and 2010CA."""
    cov = claim.coverage
    assert cov is not None
    patient = claim.patient
    last, first = _person_name(patient, claim.claim_id, "patient")
    return [
        _seg("PAT", cov.relationship.value),
        _seg("NM1", "QC", "1", last, first),
        *_address(patient.address, claim.claim_id, "patient.address"),
        _dmg(patient),
    ]


def _claim_loop(out: Outgoing) -> list[str]:
    """2300 (CLM, REF*9F, REF*G1, REF*F8, HI), 2310B when needed, and the 2400 lines
    (with REF*G1 and REF*9F where a line has its own)."""
    claim = out.claim
    cid = claim.claim_id
    freq = out.frequency_code
    if freq not in ("1", "7", "8"):
        raise Unbuildable(cid, "frequency_code", f"must be 1, 7 or 8, got {freq!r}")
    lines = claim.lines
    total = 0
    for line in lines:
        total += line.charge_cents
    if total != claim.total_charge_cents:
        raise Unbuildable(
            cid,
            "total_charge_cents",
            f"is {claim.total_charge_cents} but the lines add up to {total}",
        )
    segs = [
        _seg(
            "CLM",
            _ident(claim.patient_control_number, cid, "patient_control_number"),
            money(total),
            "",
            "",
            f"{claim.place_of_service}:B:{freq}",
            "Y",
            "A",
            "Y",
            "Y",
        )
    ]
    later = to_later_payer(out)
    segs.extend(refs.claim_refs(claim, freq, out.payer_claim_number, later=later))
    diagnoses = claim.diagnoses
    if not diagnoses or len(diagnoses) > 12:
        raise Unbuildable(cid, "diagnoses", f"must hold 1 to 12 codes, got {len(diagnoses)}")
    hi = ["HI"]
    for n, code in enumerate(diagnoses):
        clean = _code(code.replace(".", ""), cid, f"diagnoses[{n}]")
        hi.append(("ABK:" if n == 0 else "ABF:") + clean)
    segs.append(_seg(*hi))
    rp = claim.rendering_provider
    if rp.npi != claim.billing_provider.npi:
        segs.append(_provider_nm1("82", rp, cid, "rendering_provider"))
        if rp.taxonomy:
            segs.append(_seg("PRV", "PE", "PXC", rp.taxonomy))
    by_line = cob_loops.other_payers(claim, out.cob, segs) if out.cob else {}
    n_dx = len(diagnoses)
    for n, line in enumerate(lines, start=1):
        proc = _code(line.procedure_code, cid, f"lines[{n}].procedure_code")
        mods = [_code(m, cid, f"lines[{n}].modifiers") for m in line.modifiers]
        if len(mods) > 4:
            raise Unbuildable(cid, f"lines[{n}].modifiers", "has more than 4 modifiers")
        pointers = line.diagnosis_pointers
        if not pointers or len(pointers) > 4 or any(p < 1 or p > n_dx for p in pointers):
            raise Unbuildable(
                cid, f"lines[{n}].diagnosis_pointers", f"must be 1-4 of 1..{n_dx}: {pointers}"
            )
        segs.append(_seg("LX", str(n)))
        segs.append(
            _seg(
                "SV1",
                ":".join(["HC", proc, *mods]),
                money(line.charge_cents),
                "UN",
                str(line.units),
                "",
                "",
                ":".join(map(str, pointers)),
            )
        )
        segs.append(_seg("DTP", "472", "D8", _d8(line.service_date)))
        if not later:
            segs.extend(refs.line_refs(line, cid, n))
        segs.extend(by_line.get(n, ()))
    return segs


class _Subscriber:
    __slots__ = ("claims", "patients", "segs")

    def __init__(self, segs: list[str]) -> None:
        self.segs = segs
        self.claims: list[list[str]] = []
        self.patients: dict[str, tuple[list[str], list[list[str]]]] = {}


def _check_party(party: Party, role: str) -> None:
    isa = party.interchange_id
    if not isa or len(isa) > 15 or any(c in isa for c in _DELIMS):
        raise ValueError(f"{role} id must be 1-15 characters without delimiters: {isa!r}")
    if not party.id or len(party.id) > 80 or any(c in party.id for c in _DELIMS):
        raise ValueError(f"{role} NM109 must be 1-80 characters without delimiters")
    if len(party.qualifier) != 2:
        raise ValueError(f"{role} qualifier must be 2 characters: {party.qualifier!r}")


_Tree = dict[str, tuple[list[str], dict[str, _Subscriber]]]


def _checked_phone(
    claims: Sequence[Outgoing],
    control: ControlNumbers,
    submitter: Party,
    receiver: Party,
    contact_phone: str,
    usage: str,
) -> str:
    """The contact phone's 10 digits, once the arguments are checked (ValueError)."""
    if not claims:
        raise ValueError("render_837p needs at least one claim")
    for name, value in (
        ("interchange", control.interchange),
        ("group", control.group),
        ("transaction_start", control.transaction_start),
    ):
        if not 1 <= value <= _MAX_CONTROL:
            raise ValueError(f"control number {name} must be 1..{_MAX_CONTROL}, got {value}")
    if usage not in ("T", "P"):
        raise ValueError(f"usage must be T or P, got {usage!r}")
    _check_party(submitter, "submitter")
    _check_party(receiver, "receiver")
    phone = "".join(c for c in contact_phone if c.isdigit())
    if len(phone) != 10:
        raise ValueError(f"contact_phone must have 10 digits, got {contact_phone!r}")
    return phone


def _tree(claims: Sequence[Outgoing]) -> _Tree:
    """The claims under their billing provider (2000A) and subscriber (2000B), and a
    dependent's under the patient (2000C): billing key -> (segments, subscribers)."""
    tree: _Tree = {}
    payer: str | None = None
    for out in claims:
        claim = out.claim
        cid = claim.claim_id
        cov = claim.coverage
        if claim.self_pay:
            raise Unbuildable(cid, "coverage", "is absent: a self-pay claim has no payer to bill")
        if cov is None:
            raise Unbuildable(cid, "coverage")
        if payer is None:
            payer = cov.payer_id
        elif cov.payer_id != payer:
            raise ValueError(
                f"one 837P interchange per payer: claim {cid} is for {cov.payer_id!r}, "
                f"the batch is for {payer!r}"
            )
        dependent = cov.relationship.value != "18"
        if dependent and cov.subscriber is None:
            raise Unbuildable(
                cid,
                "coverage.subscriber",
                f"is missing for a patient whose relationship is {cov.relationship.value}",
            )
        billing = _billing_loop(claim)
        bkey = "".join(billing)
        node = tree.get(bkey)
        if node is None:
            node = tree[bkey] = (billing, {})
        sub = _subscriber_loop(claim, dependent)
        skey = "".join(sub)
        snode = node[1].get(skey)
        if snode is None:
            snode = node[1][skey] = _Subscriber(sub)
        body = _claim_loop(out)
        if dependent:
            pat = _patient_loop(claim)
            pkey = "".join(pat)
            pnode = snode.patients.get(pkey)
            if pnode is None:
                pnode = snode.patients[pkey] = (pat, [])
            pnode[1].append(body)
        else:
            snode.claims.append(body)
    return tree


def _hierarchy(tree: _Tree) -> list[str]:
    """The HL loops, numbered in order, each with its parent."""
    segs: list[str] = []
    hl = 0
    for billing, subscribers in tree.values():
        hl += 1
        parent_a = str(hl)
        segs.append(_seg("HL", parent_a, "", "20", "1"))
        segs.extend(billing)
        for snode in subscribers.values():
            hl += 1
            parent_b = str(hl)
            segs.append(_seg("HL", parent_b, parent_a, "22", "1" if snode.patients else "0"))
            segs.extend(snode.segs)
            for body in snode.claims:
                segs.extend(body)
            for pat, bodies in snode.patients.values():
                hl += 1
                segs.append(_seg("HL", str(hl), parent_b, "23", "0"))
                segs.extend(pat)
                for body in bodies:
                    segs.extend(body)
    return segs


def render_837p(
    claims: Sequence[Outgoing],
    *,
    control: ControlNumbers,
    submitter: Party,
    receiver: Party,
    contact_phone: str,
    at: dt.datetime,
    usage: str = "T",
    contact_name: str = "",
    contact_email: str | None = None,
) -> str:
    """One 837P interchange (ISA..IEA) with one ST/SE holding every claim, for one payer.
    The submitter's PER*IC names ``contact_name`` (else the submitter) and, when given,
    ``contact_email`` (PER05/06 EM).

    Raises Unbuildable (a ValueError) naming the first claim that cannot be written,
    and ValueError for bad arguments (no claims, several payers, bad control numbers).
    """
    phone = _checked_phone(claims, control, submitter, receiver, contact_phone, usage)
    tree = _tree(claims)
    st = f"{control.transaction_start:04d}"
    submitter_name = _text(submitter.name, "-", "submitter.name")
    receiver_name = _text(receiver.name, "-", "receiver.name")
    segs = [
        _seg("BHT", "0019", "00", st, at.strftime("%Y%m%d"), at.strftime("%H%M"), "CH"),
        _seg("NM1", "41", "2", submitter_name, "", "", "", "", "46", submitter.id),
        _seg(
            "PER",
            "IC",
            _text(contact_name, "-", "contact_name") if contact_name else submitter_name,
            "TE",
            phone,
            *(("EM", contact_email) if contact_email else ()),
        ),
        _seg("NM1", "40", "2", receiver_name, "", "", "", "", "46", receiver.id),
        *_hierarchy(tree),
    ]
    envelope = Envelope(
        sender_qualifier=submitter.qualifier,
        sender_id=submitter.interchange_id,
        receiver_qualifier=receiver.qualifier,
        receiver_id=receiver.interchange_id,
        functional_id="HC",
        version=VERSION,
        interchange_control_number=control.interchange,
        group_control_number=control.group,
        usage=usage,
        at=at,
        gs_sender=submitter.gs_code,
        gs_receiver=receiver.gs_code,
    )
    return wrap(envelope, [transaction("837", st, segs, VERSION)])
