"""The payer's modifier rules (:mod:`services.coding.payer_rules`), line by line:

* ``PAYER-MODIFIER`` (hold): a code the payer pays only with one of its modifiers
  (``requires-modifier``: 25 on a problem E/M billed with a wellness visit, KX where the
  payer's policy asks for it), optionally only when billed with certain codes; and an
  NCCI bypass modifier (59, XE, XS, XP, XU) the payer does not accept
  (``bypass-modifiers`` lists the ones it does).
* ``PAYER-TELEHEALTH`` (hold): on a telehealth claim (place of service 02 or 10) a
  telehealth service without the payer's telehealth modifier (95, GT, ...); a telehealth
  modifier the payer does not take; a telehealth modifier with a place of service the
  payer does not take telehealth under.
"""

from __future__ import annotations

from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, Flag
from services.coding.edits.ncci_ptp import NCCI_BYPASS

TELEHEALTH_POS: frozenset[str] = frozenset({"02", "10"})
TELEHEALTH_MODIFIERS: frozenset[str] = frozenset({"95", "GT", "GQ", "FQ", "93"})


def _either(mods: tuple[str, ...]) -> str:
    return " or ".join(repr(m) for m in mods)


def required(f: ClaimFacts) -> list[Flag]:
    found: list[Flag] = []
    payer = f.rules.payer_id
    codes = [ln.procedure_code for ln in f.lines]
    for n, ln in enumerate(f.lines, start=1):
        code = ln.procedure_code
        for r in f.rules.kind("requires-modifier"):
            if not r.applies_to(code) or set(r.modifiers) & set(ln.modifiers):
                continue
            with_ = [c for i, c in enumerate(codes, start=1) if i != n and c in r.related]
            if r.related and not with_:
                continue
            context = f" billed with '{with_[0]}'" if with_ else ""
            found.append(
                Flag(
                    "PAYER-MODIFIER",
                    HOLD,
                    n,
                    f"line {n}: payer {payer} requires modifier {_either(r.modifiers)} on"
                    f" '{code}'{context}",
                    f"add modifier {_either(r.modifiers)} to line {n} if the documentation"
                    " supports it",
                )
            )
            break
        accepted = [r for r in f.rules.kind("bypass-modifiers") if r.applies_to(code)]
        if accepted:
            ok = {m for r in accepted for m in r.modifiers}
            refused = [m for m in ln.modifiers if m in NCCI_BYPASS and m not in ok]
            if refused:
                found.append(
                    Flag(
                        "PAYER-MODIFIER",
                        HOLD,
                        n,
                        f"line {n}: payer {payer} does not accept NCCI bypass modifier"
                        f" '{refused[0]}'; it takes {_either(tuple(sorted(ok)))}",
                        f"replace '{refused[0]}' on line {n} with one the payer accepts",
                    )
                )
    return found


def telehealth(f: ClaimFacts) -> list[Flag]:
    rules = f.rules.kind("telehealth")
    if not rules:
        return []
    payer, pos = f.rules.payer_id, f.checked.encounter.place_of_service
    accepted = tuple(sorted({m for r in rules for m in r.modifiers}))
    places = tuple(sorted({p for r in rules for p in r.places}))
    found: list[Flag] = []
    for n, ln in enumerate(f.lines, start=1):
        mods = [m for m in ln.modifiers if m in TELEHEALTH_MODIFIERS]
        refused = [m for m in mods if m not in accepted]
        eligible = any(r.applies_to(ln.procedure_code) for r in rules)
        problem = fix = ""
        if refused:
            problem = f"payer {payer} does not take telehealth modifier '{refused[0]}'"
            fix = f"use {_either(accepted)} on line {n}"
        elif mods and pos not in places:
            problem = (
                f"telehealth modifier '{mods[0]}' with place of service {pos}; payer"
                f" {payer} takes telehealth under place of service {', '.join(places)}"
            )
            fix = "correct the place of service or the modifier"
        elif pos in TELEHEALTH_POS and eligible and not mods:
            problem = (
                f"a telehealth claim (place of service {pos}) and '{ln.procedure_code}'"
                f" lacks payer {payer}'s telehealth modifier {_either(accepted)}"
            )
            fix = f"add {_either(accepted)} to line {n}, or correct the place of service"
        if problem:
            found.append(Flag("PAYER-TELEHEALTH", HOLD, n, f"line {n}: {problem}", fix))
    return found
