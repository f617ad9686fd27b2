"""The 837P's reference numbers a payer gave: REF*9F (referral) and REF*G1 (prior
authorization) in 2300 for the claim and in 2400 for a line with its own, and on a claim
to a later payer in the first payer's 2330B; REF*F8 (the payer's claim number) on a
replacement or void. In 005010X222A1's order. Pure."""

from __future__ import annotations

from schemas.events import ClaimCoded, ClaimLine
from services.claims.x12_837_text import Unbuildable, _ident, _seg


def claim_refs(
    claim: ClaimCoded, frequency_code: str, payer_claim_number: str | None, *, later: bool
) -> list[str]:
    """2300's REF*9F, REF*G1 and REF*F8. On a claim to a later payer (``later``) the
    numbers are the first payer's (its rules asked for them): :func:`first_payer_refs`
    writes them in its 2330B instead."""
    cid = claim.claim_id
    segs = [] if later else _numbers(claim, "9F")
    if frequency_code != "1":
        if not payer_claim_number:
            raise Unbuildable(
                cid,
                "payer_claim_number",
                f"is required for frequency code {frequency_code} (REF*F8, the payer's"
                " claim number)",
            )
        segs.append(_seg("REF", "F8", _ident(payer_claim_number, cid, "payer_claim_number")))
    return segs


def first_payer_refs(claim: ClaimCoded) -> list[str]:
    """2330B's Other Payer Prior Authorization (REF*G1) and Referral Number (REF*9F) of
    the first payer, on a claim to a later one."""
    return _numbers(claim, "G1")


def _numbers(claim: ClaimCoded, first: str) -> list[str]:
    """The claim's REF*9F and REF*G1, ``first`` of the two first (2300: 9F; 2330B: G1)."""
    cid = claim.claim_id
    found = {
        "9F": (claim.referral_number, "referral_number"),
        "G1": (claim.prior_authorization, "prior_authorization"),
    }
    order = ("9F", "G1") if first == "9F" else ("G1", "9F")
    return [
        _seg("REF", q, _ident(value, cid, field))
        for q in order
        for value, field in (found[q],)
        if value
    ]


def line_refs(line: ClaimLine, cid: str, n: int) -> list[str]:
    """2400 REF*G1 then REF*9F, each only where the line's number is not the claim's
    (the coding service leaves those out)."""
    segs = []
    if line.prior_authorization:
        auth = _ident(line.prior_authorization, cid, f"lines[{n}].prior_authorization")
        segs.append(_seg("REF", "G1", auth))
    if line.referral_number:
        ref = _ident(line.referral_number, cid, f"lines[{n}].referral_number")
        segs.append(_seg("REF", "9F", ref))
    return segs
