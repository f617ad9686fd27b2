"""The payer's coverage rules (:mod:`services.coding.payer_rules`), line by line:

* ``PAYER-NOT-COVERED`` (hold; warn with GY): a preventive or wellness code the payer
  does not cover, where its rules list the ones it does (Medicare: the IPPE G0402 and
  the AWV G0438/G0439/G0468, not 99381-99397; a commercial plan the other way round).
  GY (statutorily excluded, billed for the denial) makes it a warning.
* ``PAYER-FREQUENCY`` (hold): a service past the payer's frequency limit, counting the
  patient's earlier services for the same payer (the coding room's history) and the
  lines before it on the claim.
"""

from __future__ import annotations

from services.coding.codesets import EM_PREVENTIVE
from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, WARN, Flag

WELLNESS: frozenset[str] = EM_PREVENTIVE | {"G0402", "G0438", "G0439", "G0468"}
"""Preventive and wellness visit codes; a payer's ``covers`` rules add their own."""


def not_covered(f: ClaimFacts) -> list[Flag]:
    covers = f.rules.kind("covers")
    if not covers:
        return []
    covered: set[str] = set()
    for r in covers:
        covered |= r.codes
    family = WELLNESS | covered
    payer = f.rules.payer_id
    listed = ", ".join(sorted(c for c in covered if c in WELLNESS)) or "none of them"
    found: list[Flag] = []
    for n, ln in enumerate(f.lines, start=1):
        code = ln.procedure_code
        if code not in family or code in covered:
            continue
        excluded = "GY" in ln.modifiers
        found.append(
            Flag(
                "PAYER-NOT-COVERED",
                WARN if excluded else HOLD,
                n,
                f"line {n}: payer {payer} does not cover '{code}' on {f.dos.isoformat()}"
                f"{' (billed with GY for the denial)' if excluded else ''}; of the wellness"
                f" codes it covers {listed}",
                f"bill the wellness code the payer covers, or add GY to bill '{code}' for a"
                " denial the patient pays",
            )
        )
    return found


def over_limit(f: ClaimFacts) -> list[Flag]:
    limits = f.rules.kind("frequency")
    if not limits:
        return []
    claim_id, payer = f.checked.claim_id, f.rules.payer_id
    prior = [p for p in f.history if p.claim_id != claim_id and p.payer_id == payer]
    found: list[Flag] = []
    for n, ln in enumerate(f.lines, start=1):
        code = ln.procedure_code
        for r in limits:
            if not r.applies_to(code) or r.limit is None:
                continue
            counted = r.related or frozenset({code})
            dates = sorted(
                p.date_of_service
                for p in prior
                if p.procedure_code in counted and r.limit.within(f.dos, p.date_of_service)
            )
            on_claim = sum(x.units for x in f.lines[: n - 1] if x.procedure_code in counted)
            if len(dates) + on_claim + ln.units <= r.limit.times:
                continue
            if dates:
                last = dates[-1]
                due = r.limit.payable_from(dates[0] if r.limit.times > 1 else last)
                seen = f"the patient had it on {last.isoformat()}"
                fix = f"payable again from {due.isoformat()}" if due else "it is not payable again"
            else:
                seen, fix = "this claim bills it more often", "bill it within the limit"
            found.append(
                Flag(
                    "PAYER-FREQUENCY",
                    HOLD,
                    n,
                    f"line {n}: payer {payer} pays '{code}' {r.limit.text()}"
                    f" ({' '.join(sorted(counted))}); {seen}",
                    fix,
                )
            )
            break
    return found


def limited_codes(f: ClaimFacts) -> frozenset[str]:
    """Codes the payer's own frequency rules limit (the built-in AWV edit leaves them)."""
    out: set[str] = set()
    for r in f.rules.kind("frequency"):
        out |= r.codes
    return frozenset(out)
