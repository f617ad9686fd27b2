"""The PHI audit log's I/O: appending keyed rows, the signed checkpoint file, verifying.

Every writer (the gateway's group-commit writer, and each `rcm` command that reads or
replays PHI) appends through :func:`append`, inside its own transaction: it locks the
head, computes each row's HMAC with the audit key (a setting, never stored in the
database) and inserts the rows; the table's trigger only checks that they extend the head.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from services.gateway import audit

log = logging.getLogger("rcm.gateway.audit")

INSERT_SQL = (
    "INSERT INTO audit_log(seq, at, tenant, actor, action, resource, patient_id, patient_ids,"
    " claim_ids, outcome, detail, prev_hash, hash, chain)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 2)"
)
ROWS_SQL = (
    "SELECT seq, at, tenant, actor, action, resource, patient_id, patient_ids, claim_ids,"
    " outcome, detail, prev_hash, hash, chain FROM audit_log ORDER BY seq"
)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One access: who (API key id, ``cli:<user>``, or ``anonymous``), what, to which
    patients and claims (all of them), and how it ended (ok, denied, not_found, ...)."""

    tenant: str
    actor: str
    action: str
    resource: str
    patient_id: str = ""
    outcome: str = "ok"
    detail: str = ""
    patient_ids: tuple[str, ...] = ()
    claim_ids: tuple[str, ...] = ()


def _row(e: AuditEntry, seq: int, at: dt.datetime, prev: bytes) -> dict[str, Any]:
    patients = list(dict.fromkeys([*([e.patient_id] if e.patient_id else []), *e.patient_ids]))
    return {
        "seq": seq,
        "at": at,
        "tenant": e.tenant,
        "actor": e.actor,
        "action": e.action,
        "resource": e.resource[:200],
        "patient_id": e.patient_id,
        "patient_ids": patients,
        "claim_ids": list(dict.fromkeys(e.claim_ids)),
        "outcome": e.outcome,
        "detail": e.detail[:500],
        "prev_hash": prev,
    }


async def append(conn: asyncpg.Connection, key: bytes, entries: Sequence[AuditEntry]) -> int:
    """Appends ``entries`` in the caller's transaction; returns the new head's seq."""
    head = await conn.fetchrow("SELECT seq, hash FROM audit_head WHERE one FOR UPDATE")
    assert head is not None
    seq, prev = int(head["seq"]), bytes(head["hash"])
    # PostgreSQL keeps microseconds: the hash is over what a reader will get back.
    at = dt.datetime.now(dt.UTC)
    args = []
    for e in entries:
        seq += 1
        row = _row(e, seq, at, prev)
        prev = audit.mac(key, prev, row)
        args.append((*row.values(), prev))
    await conn.executemany(INSERT_SQL, args)
    return seq


def checkpoint_path(directory: Path, schema: str) -> Path:
    return directory / f"{schema}.checkpoint.json"


def read_checkpoint(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"unreadable": True}
    return data if isinstance(data, dict) else {"unreadable": True}


async def write_checkpoint(
    conn: asyncpg.Connection, key: bytes, schema: str, directory: Path
) -> dict[str, Any] | None:
    """Anchors the current head in a signed file outside the database. Never moves the
    anchor back, nor past a chain that no longer holds the last anchored row: that
    evidence stays for `rcm audit verify`. Returns what was written, or None."""
    path = checkpoint_path(directory, schema)
    old = read_checkpoint(path)
    head = await conn.fetchrow("SELECT seq, hash FROM audit_head")
    assert head is not None
    seq, hash_ = int(head["seq"]), bytes(head["hash"])
    if old is not None:
        if not audit.checkpoint_valid(key, old):
            log.error("audit checkpoint %s is not signed with the audit key: left as is", path)
            return None
        if int(old["seq"]) == seq and old["hash"] == hash_.hex():
            return None
        if int(old["seq"]) > seq or not await _still_holds(conn, old):
            log.error(
                "audit log %s no longer holds its checkpoint (seq %s): not overwritten",
                schema,
                old["seq"],
            )
            return None
    cp = audit.sign_checkpoint(key, schema, seq, hash_, dt.datetime.now(dt.UTC))
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(cp))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return cp


async def _still_holds(conn: asyncpg.Connection, cp: dict[str, Any]) -> bool:
    if int(cp["seq"]) == 0:
        return True
    stored = await conn.fetchval("SELECT hash FROM audit_log WHERE seq = $1", int(cp["seq"]))
    return stored is not None and bytes(stored).hex() == cp["hash"]


async def verify(
    conn: asyncpg.Connection, key: bytes, schema: str, directory: Path
) -> dict[str, Any]:
    """`rcm audit verify`: every row, the head and the checkpoint, in one snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        head = await conn.fetchrow("SELECT seq, hash FROM audit_head")
        rows: Iterable[Any] = [dict(r) async for r in conn.cursor(ROWS_SQL, prefetch=5000)]
    path = checkpoint_path(directory, schema)
    cp = read_checkpoint(path)
    problems = []
    if cp is not None and not audit.checkpoint_valid(key, cp):
        problems.append(f"checkpoint {path} is not signed with the audit key (forged or damaged)")
        cp = None
    verdict = audit.verify(rows, head, key=key, checkpoint=cp)
    if cp is None and not problems and verdict.rows > verdict.v1_rows:
        problems.append(f"no checkpoint at {path}: the chain's head is not anchored outside")
    verdict.problems = problems + verdict.problems
    verdict.ok = not verdict.problems
    return verdict.as_dict()
