"""The payer's authorization rules (:mod:`services.coding.payer_rules`), line by line:

* ``PRIOR-AUTH`` (hold): a service on the payer's prior-authorization list with no
  authorization number on the line or the claim (837 REF*G1, 2400 or 2300).
* ``REFERRAL`` (hold): a service the payer pays only on a referral, with no referral
  number on the line or the claim (837 REF*9F).
"""

from __future__ import annotations

from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, Flag


def missing_numbers(f: ClaimFacts) -> list[Flag]:
    auth_rules, referral_rules = f.rules.kind("prior-auth"), f.rules.kind("referral")
    if not auth_rules and not referral_rules:
        return []
    enc, payer = f.checked.encounter, f.rules.payer_id
    found: list[Flag] = []
    for n, ln in enumerate(f.lines, start=1):
        code = ln.procedure_code
        if not (ln.prior_authorization or enc.prior_authorization) and any(
            r.applies_to(code) for r in auth_rules
        ):
            found.append(
                Flag(
                    "PRIOR-AUTH",
                    HOLD,
                    n,
                    f"line {n}: payer {payer} requires prior authorization for '{code}' and"
                    " neither the line nor the claim carries an authorization number",
                    "enter the payer's authorization number on the encounter or the line"
                    " (837 REF*G1)",
                )
            )
        if not (ln.referral_number or enc.referral_number) and any(
            r.applies_to(code) for r in referral_rules
        ):
            found.append(
                Flag(
                    "REFERRAL",
                    HOLD,
                    n,
                    f"line {n}: payer {payer} pays '{code}' only on a referral and neither"
                    " the line nor the claim carries a referral number",
                    "enter the referral number on the encounter or the line (837 REF*9F)",
                )
            )
    return found
