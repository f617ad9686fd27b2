"""The PHI audit log against an attacker who holds the database's owner role (real
PostgreSQL): a tail cut off with the triggers disabled and the head moved, rows rewritten
with every later hash recomputed, a value shifted between two fields, and old (unkeyed)
rows rewritten after the keyed chain began. `rcm audit verify` must name each."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from rcm import audit_trail
from runtime.db import create_pool, migrate
from runtime.settings import REPO_ROOT, Settings
from services.gateway import audit
from services.gateway.audit_store import AuditEntry, checkpoint_path

pytestmark = pytest.mark.integration

MIGRATIONS = REPO_ROOT / "services" / "gateway" / "migrations"


@pytest.fixture
async def world(live_stack: Settings, tmp_path: Path) -> AsyncIterator[tuple[Settings, str]]:
    s = live_stack.model_copy(update={"audit_checkpoint_dir": tmp_path / "anchors"})
    schema = f"it_audit_{uuid.uuid4().hex[:10]}"
    try:
        yield s, schema
    finally:
        conn = await asyncpg.connect(s.database_url)
        try:
            await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        finally:
            await conn.close()


async def reads(s: Settings, schema: str, n: int, first: int = 1) -> None:
    await audit_trail.record(
        s,
        [
            AuditEntry(
                "tenant-a",
                "k_billing",
                "claim.read",
                f"C{i}",
                patient_ids=(f"P{i}",),
                claim_ids=(f"C{i}",),
            )
            for i in range(first, first + n)
        ],
        schema,
    )


async def as_owner(s: Settings, schema: str, *sql: str) -> None:
    """What the services' own role may do today: disable the triggers and edit."""
    conn = await asyncpg.connect(s.database_url, server_settings={"search_path": schema})
    try:
        async with conn.transaction():
            await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
            await conn.execute("ALTER TABLE audit_head DISABLE TRIGGER USER")
            for statement in sql:
                await conn.execute(statement)
            await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
            await conn.execute("ALTER TABLE audit_head ENABLE TRIGGER USER")
    finally:
        await conn.close()


async def test_an_untouched_keyed_chain_and_its_checkpoint_verify(
    world: tuple[Settings, str],
) -> None:
    s, schema = world
    await reads(s, schema, 5)
    verdict = await audit_trail.verify(s, schema)
    assert verdict["ok"], verdict
    assert verdict["rows"] == 5
    assert verdict["checkpoint"]["seq"] == 5
    cp = json.loads(checkpoint_path(s.audit_checkpoints(), schema).read_text())
    assert cp["hash"] == verdict["last_hash"]


async def test_a_tail_cut_with_the_triggers_off_and_the_head_moved_is_found(
    world: tuple[Settings, str],
) -> None:
    s, schema = world
    await reads(s, schema, 5)
    await as_owner(
        s,
        schema,
        "DELETE FROM audit_log WHERE seq > 3",
        "UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit_log WHERE seq = 3)",
    )
    verdict = await audit_trail.verify(s, schema)
    assert not verdict["ok"]
    assert verdict["problems"] == [
        f"the log ends at seq 3 but the checkpoint of {verdict['checkpoint']['at']} anchored"
        " seq 5: rows were removed from the end (truncated)"
    ]
    # The gateway goes on writing over the cut: the checkpoint is kept, and still tells.
    await reads(s, schema, 4, first=10)
    verdict = await audit_trail.verify(s, schema)
    assert verdict["rows"] == 7
    assert verdict["checkpoint"]["seq"] == 5
    assert any("row 5: its hash differs from the checkpoint" in p for p in verdict["problems"])


async def test_the_whole_table_truncated_and_the_head_reset_is_found(
    world: tuple[Settings, str],
) -> None:
    s, schema = world
    await reads(s, schema, 3)
    await as_owner(
        s,
        schema,
        "TRUNCATE audit_log",
        "UPDATE audit_head SET seq = 0, hash = decode(repeat('00', 32), 'hex')",
    )
    verdict = await audit_trail.verify(s, schema)
    assert not verdict["ok"]
    assert "rows were removed from the end (truncated)" in verdict["problems"][0]


async def test_who_read_a_record_rewritten_with_every_later_hash_recomputed_is_found(
    world: tuple[Settings, str],
) -> None:
    s, schema = world
    await reads(s, schema, 4)
    # The attacker recomputes the chain from row 2 on, as 0001's trigger did (sha256), and
    # again with a guessed key: without RCM_AUDIT_KEY neither makes a valid row.
    for guess in (None, b"local-ops-token"):
        pool = await create_pool(s, schema, max_size=1)
        try:
            rows = [dict(r) for r in await pool.fetch("SELECT * FROM audit_log ORDER BY seq")]
        finally:
            await pool.close()
        rows[1]["actor"] = "k_someone_else"
        statements = []
        prev = rows[0]["hash"]
        for row in rows[1:]:
            row["prev_hash"] = prev
            body = prev + audit.canonical_v2(row)
            prev = (
                hashlib.sha256(body).digest()
                if guess is None
                else hmac.new(guess, audit.ROW_LABEL + body, hashlib.sha256).digest()
            )
            statements.append(
                f"UPDATE audit_log SET actor = '{row['actor']}',"
                f" prev_hash = '\\x{row['prev_hash'].hex()}', hash = '\\x{prev.hex()}'"
                f" WHERE seq = {row['seq']}"
            )
        statements.append(f"UPDATE audit_head SET hash = '\\x{prev.hex()}'")
        await as_owner(s, schema, *statements)
        verdict = await audit_trail.verify(s, schema)
        assert not verdict["ok"]
        assert verdict["problems"][:3] == [
            f"row {n}: content does not match its keyed hash (altered, or rewritten without"
            " the audit key)"
            for n in (2, 3, 4)
        ]
        assert "row 4: its hash differs from the checkpoint" in verdict["problems"][3]


async def test_a_value_shifted_between_two_fields_is_found(world: tuple[Settings, str]) -> None:
    s, schema = world
    await audit_trail.record(
        s, [AuditEntry("tenant-a", "k_billing", "claim.read", "C1", detail="P1\x1fP2")], schema
    )
    # Under 0001's \x1f-joined form this shift kept the hash (test_gateway_security shows it).
    await as_owner(
        s, schema, "UPDATE audit_log SET resource = E'C1\\x1fP1', detail = 'P2' WHERE seq = 1"
    )
    verdict = await audit_trail.verify(s, schema)
    assert verdict["problems"][0] == (
        "row 1: content does not match its keyed hash (altered, or rewritten without the audit key)"
    )


async def test_a_forged_or_missing_checkpoint_is_named(world: tuple[Settings, str]) -> None:
    s, schema = world
    await reads(s, schema, 2)
    path = checkpoint_path(s.audit_checkpoints(), schema)
    cp = json.loads(path.read_text())
    path.write_text(json.dumps(cp | {"seq": 1}))
    verdict = await audit_trail.verify(s, schema)
    assert verdict["problems"] == [
        f"checkpoint {path} is not signed with the audit key (forged or damaged)"
    ]
    path.unlink()
    verdict = await audit_trail.verify(s, schema)
    assert verdict["problems"] == [
        f"no checkpoint at {path}: the chain's head is not anchored outside"
    ]


async def test_rows_from_before_the_keyed_chain_are_sealed_by_it(
    world: tuple[Settings, str], tmp_path: Path
) -> None:
    s, schema = world
    old = tmp_path / "v1"
    old.mkdir()
    for name in ("0001_gateway.sql", "0002_ops_sessions.sql"):
        shutil.copy(MIGRATIONS / name, old / name)
    pool = await create_pool(s, schema, max_size=1)
    try:
        await migrate(pool, schema, old)
        for n in range(3):
            await pool.execute(
                "INSERT INTO audit_log(tenant, actor, action, resource, outcome)"
                " VALUES ('t', 'k', 'claim.read', $1, 'ok')",
                f"C{n}",
            )
        await migrate(pool, schema, MIGRATIONS)
        with pytest.raises(asyncpg.RaiseError, match="keyed hash"):
            await pool.execute(
                "INSERT INTO audit_log(tenant, actor, action, resource, outcome)"
                " VALUES ('t', 'k', 'claim.read', 'C9', 'ok')"
            )
        await reads(s, schema, 2)
        verdict = await audit_trail.verify(s, schema)
        assert verdict["ok"], verdict
        assert (verdict["rows"], verdict["unkeyed_v1_rows"]) == (5, 3)
        # Rewrite old row 2 and recompute the unkeyed hashes after it, up to the first
        # keyed row's link: that link is under the key.
        rows = [dict(r) for r in await pool.fetch("SELECT * FROM audit_log ORDER BY seq")]
    finally:
        await pool.close()
    rows[1]["resource"] = "C-other"
    statements = []
    prev = rows[0]["hash"]
    for row in rows[1:3]:
        row["prev_hash"], prev = prev, audit.digest(prev, row)
        statements.append(
            f"UPDATE audit_log SET resource = '{row['resource']}',"
            f" prev_hash = '\\x{row['prev_hash'].hex()}', hash = '\\x{prev.hex()}'"
            f" WHERE seq = {row['seq']}"
        )
    statements.append(f"UPDATE audit_log SET prev_hash = '\\x{prev.hex()}' WHERE seq = 4")
    await as_owner(s, schema, *statements)
    verdict = await audit_trail.verify(s, schema)
    assert verdict["problems"][0] == (
        "row 4: content does not match its keyed hash (altered, or rewritten without the audit key)"
    )
