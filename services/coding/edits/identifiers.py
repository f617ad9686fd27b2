"""The claim's identifiers (all hold, on the claim):

* ``NPI-INVALID``: a provider NPI (billing, rendering, facility) that fails the NPI
  check digit: Luhn over the 80840 card-issuer prefix and the first 9 digits, first
  digit 1 or 2 (CMS's NPI standard).
* ``TAXONOMY-INVALID``: a provider taxonomy code not shaped like the NUCC code set
  (3 digits, 6 letters or digits, then X).
* ``PAYER-UNKNOWN``: a coverage's payer id that is not in the payer list
  (:func:`services.coding.reference.payer_known`).
"""

from __future__ import annotations

import re

from schemas.common import Provider
from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, Flag
from services.coding.reference import payer_known, payers_source

PREFIX_SUM = 24
"""The Luhn contribution of the 80840 prefix (8, 0->0, 8->16->7, 4->8 ... summed)."""
_TAXONOMY = re.compile(r"[0-9]{3}[0-9A-Z]{6}X")


def npi_is_valid(npi: str) -> bool:
    """10 digits, first 1 or 2, and the check digit Luhn gives with the 80840 prefix."""
    if len(npi) != 10 or not npi.isdigit() or npi[0] not in "12":
        return False
    total = PREFIX_SUM
    for i, ch in enumerate(reversed(npi[:9])):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10 == int(npi[9])


def _providers(f: ClaimFacts) -> list[tuple[str, Provider]]:
    enc = f.checked.encounter
    out = [("billing", enc.billing_provider), ("rendering", enc.rendering_provider)]
    if enc.facility is not None:
        out.append(("facility", enc.facility))
    return out


def provider_ids(f: ClaimFacts) -> list[Flag]:
    found: list[Flag] = []
    for role, provider in _providers(f):
        if not npi_is_valid(provider.npi):
            found.append(
                Flag(
                    "NPI-INVALID",
                    HOLD,
                    None,
                    f"the {role} provider's NPI fails the NPI check digit (Luhn with the "
                    "80840 prefix)",
                    f"correct the {role} provider's NPI (look it up in NPPES)",
                )
            )
        if provider.taxonomy is not None and not _TAXONOMY.fullmatch(provider.taxonomy):
            found.append(
                Flag(
                    "TAXONOMY-INVALID",
                    HOLD,
                    None,
                    f"the {role} provider's taxonomy '{provider.taxonomy}' is not a NUCC "
                    "taxonomy code (3 digits, 6 letters or digits, X)",
                    f"correct the {role} provider's taxonomy code (e.g. 207Q00000X)",
                )
            )
    return found


def payer_ids(f: ClaimFacts) -> list[Flag]:
    if f.checked.self_pay:
        return []
    ids = [c.payer_id for c in sorted(f.checked.encounter.coverages, key=lambda c: c.priority)]
    if f.checked.payer_id and f.checked.payer_id not in ids:
        ids.insert(0, f.checked.payer_id)
    return [
        Flag(
            "PAYER-UNKNOWN",
            HOLD,
            None,
            f"payer id '{pid}' is not in the payer list ({payers_source()})",
            "correct the coverage's payer id, or add the payer to the payer list",
        )
        for pid in dict.fromkeys(ids)
        if not payer_known(pid)
    ]
