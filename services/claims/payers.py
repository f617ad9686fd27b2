"""The payer directory, pure: one CSV row a payer, parsed and checked, and what the 837P
takes from it. The claims service owns the directory (table ``payers``, view
``claims.payer_v1``); ``rcm payers import FILE.csv --tenant T`` loads it
(services/claims/directory.py writes it).

Columns (header row required, any order):

- required: ``payer_id``, ``name``, ``filing_indicator`` (837 SBR09, X12 code list 1032:
  ``MB`` Medicare Part B, ``MC`` Medicaid, ``CI`` commercial, ``12`` a PPO, ...),
  ``timely_filing_days``, ``days_to_pay``;
- optional: ``clp06_kind`` (the claim filing indicator the payer's 835 CLP06 carries,
  when it differs from what we send), ``route_account`` and ``route_transport`` (the
  clearinghouse account and transport, text until the transports exist),
  ``realtime_270`` and ``realtime_276`` (true/false: does it answer real-time),
  ``enroll_claims``, ``enroll_era``, ``enroll_eft`` (``enrolled``, ``pending``,
  ``not_enrolled`` or ``not_required``; empty is ``not_required``), ``appeal_days``
  (days from the initial determination to file an appeal: Medicare's redetermination
  120) and ``appeal_answer_days`` (days the payer takes to decide one: Medicare 60);
  empty: the payer takes no appeals on file here; ``auto_resubmit`` (the denial
  categories, ``;``-separated, for which the payer takes a denied claim sent again
  automatically, once, as a replacement: ``correctable``, ``appealable``, ``write_off``;
  empty: never).

Every row is checked before anything is written; an error names the row (the file's
line number, the header being row 1) and the column. No payer behaviour keys on the
payer id: a Medicare payer is the one whose filing indicator says so.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

REQUIRED = ("payer_id", "name", "filing_indicator", "timely_filing_days", "days_to_pay")
OPTIONAL = (
    "clp06_kind",
    "route_account",
    "route_transport",
    "realtime_270",
    "realtime_276",
    "enroll_claims",
    "enroll_era",
    "enroll_eft",
    "appeal_days",
    "appeal_answer_days",
    "auto_resubmit",
)
#: The denial categories a payer may take an automatic resubmission for.
RESUBMIT_CATEGORIES = frozenset({"correctable", "appealable", "write_off"})

#: X12 code list 1032 (claim filing indicator), as 005010X222A1 SBR09 allows it.
FILING_INDICATORS = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "16",
        "17",
        "AM",
        "BL",
        "CH",
        "CI",
        "DS",
        "FI",
        "HM",
        "LM",
        "MA",
        "MB",
        "MC",
        "OF",
        "TV",
        "VA",
        "WC",
        "ZZ",
    ]
)
#: Medicare (Part A, Part B) and Medicaid filing indicators.
MEDICARE = frozenset({"MA", "MB"})
MEDICAID = frozenset({"MC"})
ENROLLMENT = ("enrolled", "pending", "not_enrolled", "not_required")
#: Claims may go to a payer whose claims enrollment is one of these.
CLAIMS_ALLOWED = frozenset({"enrolled", "not_required"})
_TRUE = frozenset({"true", "yes", "y", "1"})
_FALSE = frozenset({"false", "no", "n", "0", ""})
_PAYER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,79}$")
_ROUTE = re.compile(r"^[A-Za-z0-9._@-]{1,60}$")


class PayerFileError(ValueError):
    """The file cannot be imported; the message names the row and the column."""


@dataclass(frozen=True, slots=True)
class Payer:
    payer_id: str
    name: str
    filing_indicator: str
    timely_filing_days: int
    days_to_pay: int
    clp06_kind: str | None = None
    route_account: str | None = None
    route_transport: str | None = None
    realtime_270: bool = False
    realtime_276: bool = False
    enroll_claims: str = "not_required"
    enroll_era: str = "not_required"
    enroll_eft: str = "not_required"
    appeal_days: int | None = None
    appeal_answer_days: int | None = None
    auto_resubmit: str = ""
    active: bool = True

    def resubmits(self, category: str | None) -> bool:
        """Does the payer take a claim denied for ``category`` sent again automatically?"""
        return category is not None and category in self.auto_resubmit.split(";")


def parse(text: str) -> list[Payer]:
    """The payers of a directory CSV; raises PayerFileError naming the row and column."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise PayerFileError(f"row 1: header lacks column(s) {', '.join(missing)}")
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if unknown:
        raise PayerFileError(f"row 1: unknown column(s) {', '.join(unknown)}")
    out: list[Payer] = []
    seen: dict[str, int] = {}
    for raw in reader:
        n = reader.line_num
        data = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k}
        if not any(data.values()):
            continue
        payer = _row(n, data)
        if payer.payer_id in seen:
            raise PayerFileError(
                f"row {n}, column payer_id: {payer.payer_id} is already on row {seen[payer.payer_id]}"
            )
        seen[payer.payer_id] = n
        out.append(payer)
    if not out:
        raise PayerFileError("no payer rows after the header")
    return out


def _row(n: int, d: dict[str, str]) -> Payer:
    def bad(column: str, problem: str) -> PayerFileError:
        return PayerFileError(f"row {n}, column {column}: {problem} (got {d.get(column, '')!r})")

    pid = d["payer_id"]
    if not _PAYER_ID.match(pid):
        raise bad("payer_id", "must be 2-80 letters, digits, '.', '_' or '-'")
    if not d["name"] or len(d["name"]) > 60:
        raise bad("name", "must be 1-60 characters")
    for column in ("filing_indicator", "clp06_kind"):
        code = d.get(column, "").upper()
        if (code or column == "filing_indicator") and code not in FILING_INDICATORS:
            raise bad(column, "is not a claim filing indicator (X12 1032: MB, MC, CI, 12, ...)")
    for column in ("route_account", "route_transport"):
        if d.get(column) and not _ROUTE.match(d[column]):
            raise bad(column, "must be 1-60 letters, digits, '.', '_', '@' or '-'")
    flags = {}
    for column in ("realtime_270", "realtime_276"):
        value = d.get(column, "").lower()
        if value not in _TRUE | _FALSE:
            raise bad(column, "must be true or false")
        flags[column] = value in _TRUE
    enroll = {}
    for column in ("enroll_claims", "enroll_era", "enroll_eft"):
        value = d.get(column, "").lower() or "not_required"
        if value not in ENROLLMENT:
            raise bad(column, f"must be one of {', '.join(ENROLLMENT)}")
        enroll[column] = value
    days = {}
    for column, top in (("timely_filing_days", 3650), ("days_to_pay", 365)):
        if not d[column].isdigit() or not 1 <= int(d[column]) <= top:
            raise bad(column, f"must be a whole number of days from 1 to {top}")
        days[column] = int(d[column])
    appeal: dict[str, int | None] = {}
    for column in ("appeal_days", "appeal_answer_days"):
        value = d.get(column, "")
        if value and (not value.isdigit() or not 1 <= int(value) <= 3650):
            raise bad(column, "must be empty or a whole number of days from 1 to 3650")
        appeal[column] = int(value) if value else None
    cats = [c.strip().lower() for c in d.get("auto_resubmit", "").split(";") if c.strip()]
    if any(c not in RESUBMIT_CATEGORIES for c in cats):
        raise bad(
            "auto_resubmit", "must be empty or categories among correctable;appealable;write_off"
        )
    return Payer(
        payer_id=pid,
        name=d["name"],
        filing_indicator=d["filing_indicator"].upper(),
        timely_filing_days=days["timely_filing_days"],
        days_to_pay=days["days_to_pay"],
        clp06_kind=d.get("clp06_kind", "").upper() or None,
        route_account=d.get("route_account") or None,
        route_transport=d.get("route_transport") or None,
        realtime_270=flags["realtime_270"],
        realtime_276=flags["realtime_276"],
        enroll_claims=enroll["enroll_claims"],
        enroll_era=enroll["enroll_era"],
        enroll_eft=enroll["enroll_eft"],
        appeal_days=appeal["appeal_days"],
        appeal_answer_days=appeal["appeal_answer_days"],
        auto_resubmit=";".join(sorted(set(cats))),
    )


def refusal(payer_id: str, tenant: str, payer: Payer | None) -> tuple[str, str] | None:
    """Why a claim cannot go to this payer (code, message naming the payer), or None."""
    if payer is None:
        return (
            "PAYER-UNKNOWN",
            f"payer {payer_id} is not in tenant {tenant}'s payer directory"
            " (add it with `rcm payers import`)",
        )
    if not payer.active:
        return (
            "PAYER-INACTIVE",
            f"payer {payer_id} is inactive in tenant {tenant}'s payer directory"
            " (it was missing from the last import)",
        )
    if payer.enroll_claims not in CLAIMS_ALLOWED:
        return (
            "PAYER-NOT-ENROLLED",
            f"payer {payer_id}: claims enrollment is {payer.enroll_claims}",
        )
    return None
