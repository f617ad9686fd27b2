"""Waiting for a run to settle: what a poll reads, and when the wait ends."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rcm import demo
from runtime.settings import Settings

pytestmark = pytest.mark.unit


class _Conn:
    async def close(self) -> None:
        return None


def _row(state: str) -> dict[str, Any]:
    return {"state": state, "self_pay": False, "patient_responsibility_cents": 0}


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Claims that close one poll after they are first read; every read is recorded."""
    w: dict[str, Any] = {"reads": [], "closed": set(), "never": set(), "sleeps": 0}

    async def claim_states(_conn: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
        w["reads"].append(list(ids))
        out = {c: _row("CLOSED" if c in w["closed"] else "SUBMITTED") for c in ids}
        w["closed"].update(c for c in ids if c not in w["never"])
        return out

    async def connect(_dsn: str) -> _Conn:
        return _Conn()

    async def no_sleep(_s: float) -> None:
        w["sleeps"] += 1

    monkeypatch.setattr(demo.readmodel, "claim_states", claim_states)
    monkeypatch.setattr(demo.asyncpg, "connect", connect)
    monkeypatch.setattr(demo.asyncio, "sleep", no_sleep)
    monkeypatch.setattr(demo, "WATCH", 3)
    return w


def test_a_poll_reads_a_window_of_the_unsettled_then_all_once(world: dict[str, Any]) -> None:
    ids = [f"C{n}" for n in range(7)]
    asyncio.run(demo.wait_settled(Settings(), ids, timeout=60, progress=False))
    *polls, last = world["reads"]
    assert all(len(p) <= 3 for p in polls)
    assert polls[0] == ["C0", "C1", "C2"]
    assert sorted({c for p in polls for c in p}) == ids  # every claim was watched
    assert last == ids  # the final check reads them all


def test_a_claim_past_the_window_that_never_settles_keeps_the_wait(
    world: dict[str, Any],
) -> None:
    world["never"].add("C5")
    ids = [f"C{n}" for n in range(7)]
    with pytest.raises(demo.DemoError, match=r"^1 claims still pending"):
        asyncio.run(demo.wait_settled(Settings(), ids, timeout=0.2, progress=False))


def test_a_run_already_settled_is_seen_at_once_however_long(world: dict[str, Any]) -> None:
    # the wait's end is the benchmark's clock: it must not walk a settled run one window
    # per half second
    ids = [f"C{n}" for n in range(10)]
    world["closed"].update(ids)
    asyncio.run(demo.wait_settled(Settings(), ids, timeout=60, progress=False))
    assert world["sleeps"] == 0
    assert all(len(r) <= 3 for r in world["reads"][:-1])
    assert world["reads"][-1] == ids


def test_a_run_that_stops_settling_says_where_its_claims_are_stuck(
    world: dict[str, Any],
) -> None:
    world["never"].update({"C1", "C5"})
    ids = [f"C{n}" for n in range(7)]
    with pytest.raises(demo.DemoError) as err:
        asyncio.run(demo.wait_settled(Settings(), ids, timeout=3600, progress=False, stall_s=0.05))
    assert str(err.value) == "no claim settled for 0 s; 2 of 7 still pending: SUBMITTED 2"


def test_claims_settling_behind_a_stuck_window_are_counted_before_calling_it_a_stall(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The three claims a poll watches never settle; the seven behind them settle one at
    a time, seen only when all are read. The wait goes on while they do, and at the end
    names only the three, by state."""
    states = {"C0": "SUBMITTED", "C1": "ACCEPTED", "C2": "SUBMITTED"}
    behind = [f"C{n}" for n in range(3, 10)]

    async def claim_states(_conn: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
        if len(ids) == 10 and behind:
            states[behind.pop()] = "CLOSED"
        return {c: _row(states.get(c, "SUBMITTED")) for c in ids if c != "C0"}

    monkeypatch.setattr(demo.readmodel, "claim_states", claim_states)
    ids = [f"C{n}" for n in range(10)]
    with pytest.raises(demo.DemoError) as err:
        asyncio.run(demo.wait_settled(Settings(), ids, timeout=3600, progress=False, stall_s=0.02))
    assert behind == []
    assert str(err.value) == (
        "no claim settled for 0 s; 3 of 10 still pending:"
        " not yet created 1, ACCEPTED 1, SUBMITTED 1"
    )
