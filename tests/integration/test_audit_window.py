"""The audit chain's unanchored window (docs/security.md): rows written after the last
signed checkpoint could be cut unseen, so `rcm audit verify` says how many there are,
and the gateway anchors its head when it stops, after applying every queued write."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from rcm import audit_trail
from runtime.settings import Settings
from services.gateway.audit_store import AuditEntry, checkpoint_path, read_checkpoint
from services.gateway.core import Gateway
from tests.integration.gateway_env import drop_topics, gateway_settings

pytestmark = pytest.mark.integration


def read(i: int) -> AuditEntry:
    return AuditEntry(
        "tenant-a", "k_billing", "claim.read", f"C{i}", patient_ids=(f"P{i}",), claim_ids=(f"C{i}",)
    )


@pytest.fixture
async def gateway(live_stack: Settings, tmp_path: Path) -> AsyncIterator[tuple[Gateway, str]]:
    # anchored at start, then not again for an hour: only a stop can anchor what follows
    s = live_stack.model_copy(
        update={"audit_checkpoint_dir": tmp_path / "anchors", "audit_checkpoint_s": 3600.0}
    )
    g = gateway_settings(uuid.uuid4().hex[:10])
    gw = Gateway(s, g)
    try:
        await gw.start()
        yield gw, g.schema_name
    finally:
        await gw.stop()
        conn = await asyncpg.connect(s.database_url)
        try:
            await conn.execute(f"DROP SCHEMA IF EXISTS {g.schema_name} CASCADE")
        finally:
            await conn.close()
        await drop_topics(s, g.topic_prefix)


async def test_verify_counts_the_rows_after_the_checkpoint_and_a_stop_anchors_them(
    gateway: tuple[Gateway, str],
) -> None:
    gw, schema = gateway
    s = gw.settings
    await gw.audit(*(read(i) for i in range(1, 6)))
    running = await audit_trail.verify(s, schema)
    assert running["ok"], running["problems"]
    assert running["rows"] == 5
    assert running["checkpoint"]["seq"] == 0
    assert running["unanchored_rows"] == 5  # the window an operator must know about

    await gw.stop()
    stopped = await audit_trail.verify(s, schema)
    assert stopped["ok"], stopped["problems"]
    assert stopped["checkpoint"]["seq"] == 5
    assert stopped["unanchored_rows"] == 0


async def test_a_stop_writes_the_audit_rows_still_queued_and_anchors_them(
    gateway: tuple[Gateway, str],
) -> None:
    gw, schema = gateway
    # requests in flight when the stop comes: their rows are queued, not yet written
    pending = [asyncio.create_task(gw.audit(read(i))) for i in range(1, 21)]
    await asyncio.sleep(0)
    await gw.stop()
    await asyncio.wait_for(asyncio.gather(*pending), timeout=10)  # none is left hanging
    verdict = await audit_trail.verify(gw.settings, schema)
    assert verdict["ok"], verdict["problems"]
    assert verdict["rows"] == 20
    assert verdict["unanchored_rows"] == 0
    cp = read_checkpoint(checkpoint_path(gw.settings.audit_checkpoints(), schema))
    assert cp is not None
    assert cp["seq"] == 20
