"""Vaccines and their administration (all per line):

* ``VACCINE-PRODUCT`` (hold): an administration code (90460/90461, 90471-90474, 90480,
  G0008-G0010) on a claim with no vaccine product code (90476-90759, 91300-91399).
  A product billed with no administration is only warned (the administration charge
  may have been missed).
* ``VACCINE-DX`` (hold): an administration or product line that does not point at Z23
  (encounter for immunization, ICD-10-CM guideline I.C.21.c.2).
* ``VACCINE-ADMIN-CODE`` (hold): 90460/90461 (administration with counseling, through
  18 years) for a patient 19 or older; an add-on (90461, 90472, 90474) with none of
  the codes it adds on to.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, WARN, Flag

ADMIN_CODES = frozenset(
    {"90460", "90461", "90471", "90472", "90473", "90474", "90480", "G0008", "G0009", "G0010"}
)
COUNSELING_CODES = frozenset({"90460", "90461"})
COUNSELING_MAX_AGE = 18
ADD_ON_PRIMARIES: Mapping[str, frozenset[str]] = {
    "90461": frozenset({"90460"}),
    "90472": frozenset({"90460", "90471", "90473"}),
    "90474": frozenset({"90460", "90471", "90473"}),
}
Z23 = "Z23"


def is_vaccine_product(code: str) -> bool:
    return code.isdigit() and ("90476" <= code <= "90759" or "91300" <= code <= "91399")


def _points_at_z23(f: ClaimFacts, n: int) -> bool:
    return any(f.keys[p - 1] == Z23 for p in f.pointers[n - 1] if p <= len(f.keys))


def product_and_diagnosis(f: ClaimFacts) -> list[Flag]:
    codes = [ln.procedure_code for ln in f.lines]
    has_product = any(is_vaccine_product(c) for c in codes)
    has_admin = any(c in ADMIN_CODES for c in codes)
    found: list[Flag] = []
    for n, code in enumerate(codes, start=1):
        admin, product = code in ADMIN_CODES, is_vaccine_product(code)
        if admin and not has_product:
            found.append(
                Flag(
                    "VACCINE-PRODUCT",
                    HOLD,
                    n,
                    f"line {n}: vaccine administration '{code}' with no vaccine product "
                    "code on the claim",
                    "add the vaccine product code (90476-90759) given, or remove the "
                    "administration",
                )
            )
        elif product and not has_admin:
            found.append(
                Flag(
                    "VACCINE-PRODUCT",
                    WARN,
                    n,
                    f"line {n}: vaccine product '{code}' with no administration code",
                    "add the administration code (90460/90471 or G0008-G0010 for Medicare)",
                )
            )
        if (admin or product) and f.pointers[n - 1] and not _points_at_z23(f, n):
            found.append(
                Flag(
                    "VACCINE-DX",
                    HOLD,
                    n,
                    f"line {n}: vaccine {'administration' if admin else 'product'} "
                    f"'{code}' does not point at Z23 (encounter for immunization)",
                    f"add Z23 to the claim and point line {n} at it",
                )
            )
    return found


def administration_code(f: ClaimFacts) -> list[Flag]:
    codes = {ln.procedure_code for ln in f.lines}
    found: list[Flag] = []
    for n, line in enumerate(f.lines, start=1):
        code = line.procedure_code
        if code in COUNSELING_CODES and f.age_days >= 0 and f.age_years > COUNSELING_MAX_AGE:
            found.append(
                Flag(
                    "VACCINE-ADMIN-CODE",
                    HOLD,
                    n,
                    f"line {n}: '{code}' (administration with counseling) is for patients "
                    f"through {COUNSELING_MAX_AGE}; the patient is {f.age_years}",
                    "use 90471 (and 90472 for each additional vaccine)",
                )
            )
        primaries = ADD_ON_PRIMARIES.get(code)
        if primaries is not None and not codes & primaries:
            found.append(
                Flag(
                    "VACCINE-ADMIN-CODE",
                    HOLD,
                    n,
                    f"line {n}: add-on '{code}' without its primary administration code "
                    f"({'/'.join(sorted(primaries))})",
                    "bill the first administration with its primary code",
                )
            )
    return found
