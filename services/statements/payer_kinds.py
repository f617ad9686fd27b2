"""Which payers are Medicare and which Medicaid, for the QMB rule (domain.qmb): from the
coverage's claim filing indicator when the event carries one, else from a payer
directory file of the statements service's own (``RCM_STATEMENTS_PAYERS_FILE``: the same
CSV `rcm payers import` takes; statements reads its ``payer_id`` and ``filing_indicator``
columns). Never from the payer id's spelling."""

from __future__ import annotations

import csv
import io
from pathlib import Path

MEDICARE = frozenset({"MA", "MB"})  # X12 1032: Medicare Part A, Part B
MEDICAID = frozenset({"MC"})


def read_filing_indicators(path: Path) -> dict[str, str]:
    """payer id -> claim filing indicator; raises ValueError naming the row and column."""
    reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8").lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    for column in ("payer_id", "filing_indicator"):
        if column not in header:
            raise ValueError(f"{path.name}: row 1: header lacks column {column}")
    out: dict[str, str] = {}
    for raw in reader:
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k}
        if not any(row.values()):
            continue
        for column in ("payer_id", "filing_indicator"):
            if not row.get(column):
                raise ValueError(f"{path.name}: row {reader.line_num}, column {column}: empty")
        out[row["payer_id"]] = row["filing_indicator"].upper()
    return out
