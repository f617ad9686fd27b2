"""The 837P loops of a claim sent to a later payer (005010X222A1, coordination of
benefits): for every earlier payer, 2320 other subscriber (SBR, claim-level CAS, AMT*D
payer paid, AMT*EAF remaining patient liability, OI), 2330A other subscriber name,
2330B other payer (REF*F8 its claim number), and for every service line 2430 (SVD paid,
line CAS, DTP*573 adjudication date). Pure.

The guide's balancing, checked before anything is written (a claim that does not
balance raises :class:`Unbuildable` and is held with the reason):

- 2430, per line: SV102 (charge) - the line's CAS = SVD02 (paid);
- 2320, per payer: the SVD02 of its lines - its claim-level CAS = AMT*D, and so
  CLM02 - claim CAS - line CAS = AMT*D.

When the earlier payer's lines cannot be matched to ours (it bundled or split lines),
its answer is reported at the claim level only: every CAS in 2320 and the adjudication
date in 2330B (DTP*573), as the guide allows when 2430 is not sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from runtime.x12 import money
from schemas.common import Adjustment, Coverage
from schemas.events import ClaimCoded
from services.claims.cob import Cob, PriorPayer, lines_match
from services.claims.x12_837_refs import first_payer_refs
from services.claims.x12_837_text import (
    Unbuildable,
    _code,
    _d8,
    _ident,
    _person_name,
    _seg,
    _text,
    filing_indicator,
)

#: CAS carries at most six adjustments of one group (CAS02-CAS19).
_PER_CAS = 6


def cas_segments(adjustments: Iterable[Adjustment]) -> list[str]:
    """CAS segments: one per group (in first-seen order), six reasons at most each."""
    groups: dict[str, list[Adjustment]] = {}
    for a in adjustments:
        if a.amount_cents:
            groups.setdefault(a.group, []).append(a)
    out: list[str] = []
    for group, items in groups.items():
        for k in range(0, len(items), _PER_CAS):
            elements = ["CAS", group]
            for a in items[k : k + _PER_CAS]:
                elements += [a.reason, money(a.amount_cents), ""]
            out.append(_seg(*elements))
    return out


def _other_subscriber(claim: ClaimCoded, p: PriorPayer, by_line: bool) -> list[str]:
    """2320 (from SBR to OI), 2330A and 2330B of one earlier payer."""
    cid = claim.claim_id
    cov = p.coverage
    payer_id = _ident(cov.payer_id, cid, "prior payer id")
    group = _ident(cov.group_number, cid, "prior payer group") if cov.group_number else ""
    claim_cas = p.claim_adjustments if by_line else _all_adjustments(p)
    sbr09 = filing_indicator(cov, cid)
    segs = [
        _seg("SBR", "PST"[p.level - 1], cov.relationship.value, group, *[""] * 5, sbr09),
        *cas_segments(claim_cas),
        _seg("AMT", "D", money(p.paid_cents)),
        _seg("AMT", "EAF", money(p.patient_responsibility_cents)),
        _seg("OI", "", "", "Y", "P", "", "Y"),
    ]
    subscriber = cov.subscriber if cov.subscriber is not None else claim.patient
    last, first = _person_name(subscriber, cid, "prior payer subscriber")
    member = _ident(cov.member_id, cid, "prior payer member id")
    segs.append(_seg("NM1", "IL", "1", last, first, "", "", "", "MI", member))
    name = _text(cov.payer_name, cid, "prior payer name")
    segs.append(_seg("NM1", "PR", "2", name, "", "", "", "", "PI", payer_id))
    if not by_line:
        segs.append(_seg("DTP", "573", "D8", _d8(p.adjudicated_on)))
    if p.level == 1:  # the first payer's numbers (its rules asked): REF*G1, REF*9F
        segs.extend(first_payer_refs(claim))
    if p.payer_claim_number:
        segs.append(_seg("REF", "F8", _ident(p.payer_claim_number, cid, "prior claim number")))
    return segs


def _all_adjustments(p: PriorPayer) -> list[Adjustment]:
    return [*p.claim_adjustments, *(a for ln in p.lines for a in ln.adjustments)]


def _line_adjudication(claim: ClaimCoded, p: PriorPayer, n: int) -> list[str]:
    """2430 of our line ``n`` (1-based) as payer ``p`` adjudicated it."""
    cid = claim.claim_id
    ours, theirs = claim.lines[n - 1], p.lines[n - 1]
    proc = _code(ours.procedure_code, cid, f"lines[{n}].procedure_code")
    mods = [_code(m, cid, f"lines[{n}].modifiers") for m in ours.modifiers]
    composite = ":".join(["HC", proc, *mods])
    return [
        _seg("SVD", p.coverage.payer_id, money(theirs.paid_cents), composite, "", str(ours.units)),
        *cas_segments(theirs.adjustments),
        _seg("DTP", "573", "D8", _d8(p.adjudicated_on)),
    ]


def _balanced(claim: ClaimCoded, p: PriorPayer, by_line: bool) -> None:
    cas = sum(a.amount_cents for a in (p.claim_adjustments if by_line else _all_adjustments(p)))
    if by_line:
        svd = sum(ln.paid_cents for ln in p.lines)
        if svd - cas != p.paid_cents:
            raise Unbuildable(
                claim.claim_id,
                f"prior payer {p.coverage.payer_id} AMT*D",
                f"is {p.paid_cents} but its lines paid {svd} less claim CAS {cas}",
            )
        cas += sum(a.amount_cents for ln in p.lines for a in ln.adjustments)
    if claim.total_charge_cents - cas != p.paid_cents:
        raise Unbuildable(
            claim.claim_id,
            f"prior payer {p.coverage.payer_id} adjustments",
            f"do not balance: charge {claim.total_charge_cents} - CAS {cas} != paid {p.paid_cents}",
        )


def other_payers(claim: ClaimCoded, cob: Cob, segs: list[str]) -> dict[int, Sequence[str]]:
    """Appends 2320/2330A/2330B of every earlier payer to ``segs`` (the claim's 2300)
    and returns the 2430 loops for each of our lines (by 1-based line position)."""
    by_line: dict[int, list[str]] = {}
    for p in sorted(cob.prior, key=lambda x: x.level):
        lined = lines_match(p, claim.lines)
        _balanced(claim, p, lined)
        segs.extend(_other_subscriber(claim, p, lined))
        if lined:
            for n in range(1, len(claim.lines) + 1):
                by_line.setdefault(n, []).extend(_line_adjudication(claim, p, n))
    for k, cov in enumerate(cob.later, start=cob.level + 1):
        segs.extend(_known_payer(claim, cov, k))
    return dict(by_line)


def _known_payer(claim: ClaimCoded, cov: Coverage, level: int) -> list[str]:
    """2320 (SBR, OI), 2330A and 2330B of a payer after the one billed now: it has not
    answered, so no amounts (the guide asks for them only once a payer adjudicated);
    a payer that crosses claims over finds the next payer here."""
    cid = claim.claim_id
    payer_id = _ident(cov.payer_id, cid, "later payer id")
    group = _ident(cov.group_number, cid, "later payer group") if cov.group_number else ""
    subscriber = cov.subscriber if cov.subscriber is not None else claim.patient
    last, first = _person_name(subscriber, cid, "later payer subscriber")
    member = _ident(cov.member_id, cid, "later payer member id")
    name = _text(cov.payer_name, cid, "later payer name")
    return [
        _seg(
            "SBR",
            "PST"[min(level, 3) - 1],
            cov.relationship.value,
            group,
            *[""] * 5,
            filing_indicator(cov, cid),
        ),
        _seg("OI", "", "", "Y", "P", "", "Y"),
        _seg("NM1", "IL", "1", last, first, "", "", "", "MI", member),
        _seg("NM1", "PR", "2", name, "", "", "", "", "PI", payer_id),
    ]
