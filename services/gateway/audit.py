"""The PHI audit trail: what the chain covers, and how to check it.

PostgreSQL chains each row on insert (a trigger, see migrations); this module
recomputes the same digest so `rcm audit verify` can check every link.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

GENESIS = bytes(32)
SEP = "\x1f"


def canonical(row: Mapping[str, Any]) -> str:
    at: dt.datetime = row["at"]
    stamp = at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return SEP.join(
        [
            str(row["seq"]),
            stamp,
            row["tenant"],
            row["actor"],
            row["action"],
            row["resource"],
            row["patient_id"],
            row["outcome"],
            row["detail"],
        ]
    )


def digest(prev: bytes, row: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(prev + canonical(row).encode()).digest()


@dataclass
class Verdict:
    rows: int = 0
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    last_hash: str = GENESIS.hex()

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "ok": self.ok,
            "problems": self.problems[:20],
            "last_hash": self.last_hash,
        }


def verify(rows: Iterable[Mapping[str, Any]], head: Mapping[str, Any] | None = None) -> Verdict:
    """Checks that rows (in seq order) link up from the genesis hash and match the head."""
    v = Verdict()
    prev = GENESIS
    expected_seq = 1
    for row in rows:
        v.rows += 1
        seq = int(row["seq"])
        if seq != expected_seq:
            v.problems.append(f"row {seq}: expected seq {expected_seq} (a row is missing)")
        if bytes(row["prev_hash"]) != prev:
            v.problems.append(f"row {seq}: prev_hash does not match the row before")
        want = digest(bytes(row["prev_hash"]), row)
        if bytes(row["hash"]) != want:
            v.problems.append(f"row {seq}: content does not match its hash (altered)")
        prev = bytes(row["hash"])
        expected_seq = seq + 1
    if head is not None and (int(head["seq"]) != expected_seq - 1 or bytes(head["hash"]) != prev):
        v.problems.append("the chain head does not match the last row (rows removed at the end)")
    v.ok = not v.problems
    v.last_hash = prev.hex()
    return v
