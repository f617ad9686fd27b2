"""How the batcher cuts a payer's waiting claims into interchanges."""

from __future__ import annotations

import pytest

from services.claims.batch import Waiting, chunks_to_send
from services.claims.x12_837 import Outgoing
from tests.unit import factories as f

pytestmark = pytest.mark.unit


def waiting(n: int, ripe: bool) -> list[Waiting]:
    return [Waiting(f"c{i}", "t", ripe, Outgoing(f.claim(i + 1))) for i in range(n)]


def sizes(chunks: list[list[Waiting]]) -> list[int]:
    return [len(c) for c in chunks]


def test_full_interchanges_go_at_once_and_the_rest_waits_for_its_window() -> None:
    assert sizes(chunks_to_send(waiting(7, ripe=False), cap=3)) == [3, 3]


def test_once_the_oldest_claim_waited_its_window_everything_goes() -> None:
    assert sizes(chunks_to_send(waiting(7, ripe=True), cap=3)) == [3, 3, 1]


def test_a_lone_fresh_claim_waits() -> None:
    assert chunks_to_send(waiting(1, ripe=False), cap=25) == []
