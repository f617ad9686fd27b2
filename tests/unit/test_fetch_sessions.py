"""What an incremental fetch puts on the wire, and how a session follows the broker's
answers (KIP-227). The broker's side is in tests/integration/test_fetch_sessions.py."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.protocol.fetch import FetchRequest, FetchRequest_v4, FetchRequest_v8, FetchRequest_v11
from aiokafka.structs import TopicPartition

from runtime.fetch_sessions import (
    FETCH_SESSION_ID_NOT_FOUND,
    INVALID_FETCH_SESSION_EPOCH,
    MAX_EPOCH,
    FetchSession,
    SessionFetchRequest,
)

pytestmark = pytest.mark.unit

MB = 1_048_576


def _request(session: FetchSession, wanted: dict[tuple[str, int], int]) -> SessionFetchRequest:
    by_topic: dict[str, list[tuple[int, int, int]]] = {}
    for (topic, partition), offset in wanted.items():
        by_topic.setdefault(topic, []).append((partition, offset, MB))
    base = FetchRequest(500, 1, 52_428_800, 0, list(by_topic.items()))
    return SessionFetchRequest(base, session)


def _on_the_wire(
    request: SessionFetchRequest, struct_class: Any = FetchRequest_v11
) -> dict[str, Any]:
    """The request as the broker reads it: encoded, then decoded."""
    sent = struct_class.decode(request.build(struct_class).encode())
    return {name: sent.get_item(name) for name in sent.SCHEMA.names}


def _answer(session_id: int, error: int = 0) -> SimpleNamespace:
    return SimpleNamespace(error_code=error, session_id=session_id, topics=[])


def test_the_first_fetch_names_every_partition_and_opens_a_session() -> None:
    session = FetchSession()
    request = _request(session, {("a", 0): 10, ("a", 1): 4, ("b", 0): 7})
    wire = _on_the_wire(request)
    assert (wire["session_id"], wire["session_epoch"]) == (0, 0)
    assert sorted((t, p[0], p[2]) for t, ps in wire["topics"] for p in ps) == [
        ("a", 0, 10),
        ("a", 1, 4),
        ("b", 0, 7),
    ]
    assert wire["forgotten_topics_data"] == []

    session.answered(request, _answer(session_id=4242))
    assert (session.id, session.epoch) == (4242, 1)
    assert set(session.held) == {
        TopicPartition("a", 0),
        TopicPartition("a", 1),
        TopicPartition("b", 0),
    }


def test_a_later_fetch_names_only_what_moved_was_added_or_is_dropped() -> None:
    session = FetchSession()
    first = _request(session, {("a", 0): 10, ("a", 1): 4, ("b", 0): 7})
    first.build(FetchRequest_v11)
    session.answered(first, _answer(session_id=4242))

    # a/0 was consumed up to 12, a/1 is unchanged, b/0 has records waiting to be
    # consumed (so it is not asked for), c/0 is new.
    second = _request(session, {("a", 0): 12, ("a", 1): 4, ("c", 0): 0})
    wire = _on_the_wire(second)
    assert (wire["session_id"], wire["session_epoch"]) == (4242, 1)
    assert wire["topics"] == [("a", [(0, -1, 12, -1, MB)]), ("c", [(0, -1, 0, -1, MB)])]
    assert wire["forgotten_topics_data"] == [("b", [0])]
    # aiokafka matches the response against every partition of the session.
    assert sorted(second.topics) == [("a", [(0, 12, MB), (1, 4, MB)]), ("c", [(0, 0, MB)])]

    session.answered(second, _answer(session_id=4242))
    assert session.epoch == 2
    assert session.held[TopicPartition("a", 0)] == (12, MB)
    assert TopicPartition("b", 0) not in session.held

    # Nothing moved: the request names no partition at all.
    third = _on_the_wire(_request(session, {("a", 0): 12, ("a", 1): 4, ("c", 0): 0}))
    assert (third["session_epoch"], third["topics"], third["forgotten_topics_data"]) == (2, [], [])


def test_versions_before_the_leader_epoch_carry_the_session_without_it() -> None:
    session = FetchSession(id=7, epoch=3, held={TopicPartition("a", 0): (1, MB)})
    wire = _on_the_wire(_request(session, {("a", 0): 5}), FetchRequest_v8)
    assert (wire["session_id"], wire["session_epoch"]) == (7, 3)
    assert wire["topics"] == [("a", [(0, 5, -1, MB)])]


def test_a_broker_without_sessions_gets_aiokafkas_own_full_request() -> None:
    session = FetchSession(id=7, epoch=3)
    request = _request(session, {("a", 0): 5})
    sent = request.build(FetchRequest_v4)
    assert sent.topics == [("a", [(0, 5, MB)])]
    session.answered(request, _answer(session_id=0))
    assert (session.id, session.epoch) == (7, 3)


@pytest.mark.parametrize(
    ("error", "next_id"), [(INVALID_FETCH_SESSION_EPOCH, 4242), (FETCH_SESSION_ID_NOT_FOUND, 0)]
)
def test_a_refused_session_starts_again_with_a_full_fetch(error: int, next_id: int) -> None:
    session = FetchSession(id=4242, epoch=9, held={TopicPartition("a", 0): (3, MB)})
    request = _request(session, {("a", 0): 3, ("a", 1): 8})
    request.build(FetchRequest_v11)
    session.answered(request, _answer(session_id=0, error=error))
    assert (session.id, session.epoch, session.held, session.restarts) == (next_id, 0, {}, 1)

    # The next request names every partition again; with the old id known, it also
    # tells the broker to close that session.
    wire = _on_the_wire(_request(session, {("a", 0): 3, ("a", 1): 8}))
    assert (wire["session_id"], wire["session_epoch"]) == (next_id, 0)
    assert sorted(p[0] for _, ps in wire["topics"] for p in ps) == [0, 1]


def test_a_broker_that_keeps_no_session_gets_full_fetches() -> None:
    session = FetchSession()
    request = _request(session, {("a", 0): 3})
    request.build(FetchRequest_v11)
    session.answered(request, _answer(session_id=0))
    assert (session.id, session.epoch, session.held) == (0, 0, {})


def test_the_epoch_wraps_to_one_not_to_the_opening_epoch() -> None:
    session = FetchSession(id=5, epoch=MAX_EPOCH, held={TopicPartition("a", 0): (3, MB)})
    request = _request(session, {("a", 0): 3})
    request.build(FetchRequest_v11)
    session.answered(request, _answer(session_id=5))
    assert session.epoch == 1
