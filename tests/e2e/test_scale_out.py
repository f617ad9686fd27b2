"""Scale-out: a second instance of every service joins each consumer group, one of them
is killed mid-flow and another joins; every claim still settles, nothing is applied
twice, and each claim's timeline stays in order."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import asyncpg
import pytest

from rcm.chaos import checks
from rcm.demo import publish, wait_settled
from rcm.processes import Fleet
from runtime.settings import Settings
from schemas.ids import claim_id_for
from tests.e2e.conftest import TENANT, fresh_day

pytestmark = pytest.mark.e2e

SCALED = ("eligibility", "coding", "claims", "simulator", "remittance", "statements")


def _wait_consuming(fleet: Fleet, name: str, token: str, timeout: float = 90) -> int:
    deadline = time.monotonic() + timeout
    while (n := fleet.consumed(name, token)) == 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} was given no partition within {timeout:.0f} s")
        time.sleep(0.5)
    return n


async def _progress(s: Settings, claim_ids: list[str]) -> int:
    conn = await asyncpg.connect(s.database_url)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM claims.claims WHERE claim_id = ANY($1::text[])"
                " AND state NOT IN ('RECEIVED', 'ELIGIBLE')",
                claim_ids,
            )
        )
    finally:
        await conn.close()


async def _timelines(s: Settings, claim_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    conn = await asyncpg.connect(s.database_url)
    try:
        rows = await conn.fetch(
            "SELECT claim_id, event_id, event_type, kind, from_state, to_state"
            " FROM claims.claim_events WHERE claim_id = ANY($1::text[]) ORDER BY claim_id, id",
            claim_ids,
        )
    finally:
        await conn.close()
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["claim_id"], []).append(dict(r))
    return out


def test_instances_join_and_die_without_losing_or_repeating_work(
    fleet: Fleet, live_stack: Settings
) -> None:
    token = live_stack.ops_token.get_secret_value()
    since = dt.datetime.now(dt.UTC)
    first_wave = fresh_day(120, seed=31)
    second_wave = fresh_day(60, seed=32)
    claim_ids = [claim_id_for(TENANT, e.encounter_id) for e in (*first_wave, *second_wave)]
    extras = [f"{name}#1" for name in SCALED]
    try:
        for name in extras:
            fleet.start_one(name)
        fleet.wait_healthy()

        asyncio.run(publish(live_stack, first_wave, TENANT))
        # Both instances of a group share its partitions: the new ones take work too.
        consumed_before_kill = {n: _wait_consuming(fleet, n, token) for n in extras}
        deadline = time.monotonic() + 240
        while asyncio.run(_progress(live_stack, claim_ids[: len(first_wave)])) < 30:
            assert time.monotonic() < deadline, "the first wave made no progress"
            time.sleep(0.5)

        # Mid-flow: two instances die without a goodbye; their partitions move on once
        # the group's session times out. Then a third instance of each joins.
        fleet.kill("claims#1")
        fleet.kill("coding#1")
        del fleet.procs["claims#1"], fleet.procs["coding#1"]
        for name in ("claims#2", "coding#2"):
            fleet.start_one(name)
            extras.append(name)
        fleet.wait_healthy()
        asyncio.run(publish(live_stack, second_wave, TENANT))
        joined = {n: _wait_consuming(fleet, n, token) for n in ("claims#2", "coding#2")}
        asyncio.run(wait_settled(live_stack, claim_ids, timeout=420, progress=False))
    finally:
        for name in extras:
            if name in fleet.procs:
                fleet.stop_one(name)

    assert all(n > 0 for n in consumed_before_kill.values()), consumed_before_kill
    assert all(n > 0 for n in joined.values()), joined

    result = asyncio.run(checks(live_stack, claim_ids, poison=0, since=since))
    assert result["lost"] == 0
    assert result["duplicate_submissions"] == 0
    assert result["duplicate_postings"] == 0
    assert result["unbalanced_ledgers"] == 0
    assert result["unexpected_dead_letters"] == 0, result["dead_letters"]

    timelines = asyncio.run(_timelines(live_stack, claim_ids))
    assert set(timelines) == set(claim_ids)
    for claim_id, events in timelines.items():
        seen = [(e["event_id"], e["event_type"], e["to_state"]) for e in events]
        assert len(seen) == len(set(seen)), f"{claim_id}: an event was applied twice: {seen}"
        assert not [e for e in events if e["kind"] == "anomaly"], f"{claim_id}: {events}"
        # Per-claim order: every transition starts where the previous one ended.
        state = None
        for e in events:
            if e["kind"] == "transition":
                assert e["from_state"] == state, f"{claim_id}: out of order: {events}"
                state = e["to_state"]
