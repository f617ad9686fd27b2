"""The PHI audit trail: what the chain covers, and how to check it (no I/O here).

Version 2 rows (migration 0003) are chained by the application with a key the database
never holds: hash = HMAC-SHA256(key, prev_hash || canonical JSON of the row). JSON keeps
every field apart, so no value can move into its neighbour without changing the hash.
Version 1 rows (before 0003) keep their unkeyed sha256 over ``\\x1f``-joined fields; the
first version 2 row links to the last of them, which seals them from then on.

A signed checkpoint (the head's seq and hash, HMAC'd with the same key under another
label) is written outside the database; `rcm audit verify` checks the chain reaches it
unchanged, so cutting rows off the end, even with the triggers disabled and the head
moved, is found.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

GENESIS = bytes(32)
SEP = "\x1f"
ROW_LABEL = b"rcm-audit-row-v2\x00"
CHECKPOINT_LABEL = b"rcm-audit-checkpoint-v1\x00"


def stamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(row: Mapping[str, Any]) -> str:
    """Version 1 (unkeyed, ambiguous): kept only to check rows written before 0003."""
    return SEP.join(
        [
            str(row["seq"]),
            stamp(row["at"]),
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
    """Version 1 hash."""
    return hashlib.sha256(prev + canonical(row).encode()).digest()


def canonical_v2(row: Mapping[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "v": 2,
            "seq": int(row["seq"]),
            "at": stamp(row["at"]),
            "tenant": row["tenant"],
            "actor": row["actor"],
            "action": row["action"],
            "resource": row["resource"],
            "patient_id": row["patient_id"],
            "patient_ids": list(row["patient_ids"]),
            "claim_ids": list(row["claim_ids"]),
            "outcome": row["outcome"],
            "detail": row["detail"],
        },
        option=orjson.OPT_SORT_KEYS,
    )


def mac(key: bytes, prev: bytes, row: Mapping[str, Any]) -> bytes:
    """Version 2 hash: only a holder of the key can make or remake one."""
    return hmac.new(key, ROW_LABEL + prev + canonical_v2(row), hashlib.sha256).digest()


def _checkpoint_body(cp: Mapping[str, Any]) -> bytes:
    return orjson.dumps(
        {k: cp[k] for k in ("schema", "seq", "hash", "at")}, option=orjson.OPT_SORT_KEYS
    )


def sign_checkpoint(
    key: bytes, schema: str, seq: int, head: bytes, at: dt.datetime
) -> dict[str, Any]:
    cp: dict[str, Any] = {"schema": schema, "seq": seq, "hash": head.hex(), "at": stamp(at)}
    cp["sig"] = hmac.new(key, CHECKPOINT_LABEL + _checkpoint_body(cp), hashlib.sha256).hexdigest()
    return cp


def checkpoint_valid(key: bytes, cp: Mapping[str, Any]) -> bool:
    try:
        want = hmac.new(key, CHECKPOINT_LABEL + _checkpoint_body(cp), hashlib.sha256).hexdigest()
        return hmac.compare_digest(want, str(cp["sig"]))
    except (KeyError, TypeError, ValueError):
        return False


@dataclass
class Verdict:
    rows: int = 0
    v1_rows: int = 0
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    last_hash: str = GENESIS.hex()
    checkpoint: dict[str, Any] | None = None
    #: rows after the last checkpoint: a cut among them would not be seen (at most
    #: RCM_AUDIT_CHECKPOINT_S of writes while the gateway runs; none after a clean stop)
    unanchored: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "unanchored_rows": self.unanchored,
            "unkeyed_v1_rows": self.v1_rows,
            "ok": self.ok,
            "problems": self.problems[:20],
            "last_hash": self.last_hash,
            "checkpoint": self.checkpoint,
        }


def _check_row(v: Verdict, key: bytes, row: Mapping[str, Any], prev: bytes, seq: int) -> None:
    chain = int(row.get("chain", 1))
    stored = bytes(row["hash"])
    if chain == 1:
        v.v1_rows += 1
        if v.rows > v.v1_rows:
            v.problems.append(f"row {seq}: an unkeyed (version 1) row after keyed rows (inserted)")
        if stored != digest(bytes(row["prev_hash"]), row):
            v.problems.append(f"row {seq}: content does not match its hash (altered)")
    elif not hmac.compare_digest(stored, mac(key, bytes(row["prev_hash"]), row)):
        v.problems.append(
            f"row {seq}: content does not match its keyed hash (altered, or rewritten"
            " without the audit key)"
        )


def verify(
    rows: Iterable[Mapping[str, Any]],
    head: Mapping[str, Any] | None = None,
    *,
    key: bytes = b"",
    checkpoint: Mapping[str, Any] | None = None,
) -> Verdict:
    """Checks that rows (in seq order) link up from the genesis hash, that each matches its
    hash, that the head matches the last row and that the chain passes the checkpoint."""
    v = Verdict()
    prev = GENESIS
    expected_seq = 1
    cp_seq = int(checkpoint["seq"]) if checkpoint is not None else -1
    at_checkpoint: bytes | None = GENESIS if cp_seq == 0 else None
    for row in rows:
        v.rows += 1
        seq = int(row["seq"])
        if seq != expected_seq:
            v.problems.append(f"row {seq}: expected seq {expected_seq} (a row is missing)")
        if bytes(row["prev_hash"]) != prev:
            v.problems.append(f"row {seq}: prev_hash does not match the row before")
        _check_row(v, key, row, prev, seq)
        prev = bytes(row["hash"])
        if seq == cp_seq:
            at_checkpoint = prev
        expected_seq = seq + 1
    if head is not None and (int(head["seq"]) != expected_seq - 1 or bytes(head["hash"]) != prev):
        v.problems.append("the chain head does not match the last row (rows removed at the end)")
    if checkpoint is not None:
        _check_checkpoint(v, checkpoint, expected_seq - 1, at_checkpoint)
    v.ok = not v.problems
    v.last_hash = prev.hex()
    v.unanchored = max(0, expected_seq - 1 - cp_seq) if checkpoint is not None else v.rows
    return v


def _check_checkpoint(
    v: Verdict, cp: Mapping[str, Any], last_seq: int, at_checkpoint: bytes | None
) -> None:
    v.checkpoint = {"seq": int(cp["seq"]), "at": cp["at"]}
    if int(cp["seq"]) > last_seq:
        v.problems.append(
            f"the log ends at seq {last_seq} but the checkpoint of {cp['at']} anchored seq"
            f" {cp['seq']}: rows were removed from the end (truncated)"
        )
    elif at_checkpoint is None or at_checkpoint.hex() != cp["hash"]:
        v.problems.append(
            f"row {cp['seq']}: its hash differs from the checkpoint of {cp['at']}"
            " (rows up to there were rewritten, or removed and written anew)"
        )
