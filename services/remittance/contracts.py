"""The contracted fees file: what each payer agreed to allow per unit of a procedure."""

from __future__ import annotations

import csv
from pathlib import Path


def read_contracts(path: Path) -> list[tuple[str, str, int]]:
    """(payer_id, procedure_code, allowed cents per unit) rows of a contracts CSV."""
    with path.open(newline="", encoding="utf-8") as f:
        return [
            (row["payer_id"], row["procedure_code"], int(row["allowed_cents"]))
            for row in csv.DictReader(f)
        ]
