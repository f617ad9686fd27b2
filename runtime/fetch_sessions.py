"""Incremental fetch sessions (Kafka's KIP-227) for aiokafka's consumer.

aiokafka 0.14 sends every fetch as a full one (session 0, epoch -1): each request names
every partition the consumer may read and each response answers for every one of them,
data or not. A service reads up to ten topics of six partitions, so a fetch that brings
one record encodes, decodes and walks sixty, in Python; at a steady rate, where records
arrive a few at a time, that was the largest single cost of a lone message
(docs/performance.md, fifth session).

With a session the broker remembers the partitions and offsets of the consumer's last
fetch. The next request names only the partitions whose offset moved, were added or are
dropped, and the response carries only partitions with something new. This module adds
that to aiokafka's ``Fetcher`` as Kafka's Java consumer does it (``FetchSessionHandler``):

- per broker, a session id and the epoch of the next request; epoch 0 asks for a new
  session with a full request (and closes the old one, if the id is known);
- the partitions and offsets the broker holds for the session, as of the last answered
  request; an incremental request names what differs from them and forgets what the
  fetcher no longer asks for (a partition whose records wait to be consumed, a paused
  one, one given away in a rebalance);
- any failure (a session error from the broker, a lost connection, a cancelled fetch)
  starts again with a full request, so the worst case is today's full fetch.

aiokafka's own response handling is unchanged: the request's ``topics`` still lists every
partition of the session with its offset, so records for any of them land as before.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import aiokafka.consumer.consumer as _consumer_module
from aiokafka.consumer.fetcher import Fetcher
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.structs import TopicPartition

log = logging.getLogger("rcm.runtime")

FINAL_EPOCH = -1  # a full fetch outside any session
INITIAL_EPOCH = 0  # a full fetch that opens a session
NO_SESSION = 0
MAX_EPOCH = 2**31 - 1
# Errors the broker answers for the session as a whole (Kafka's protocol error codes).
FETCH_SESSION_ID_NOT_FOUND = 70
INVALID_FETCH_SESSION_EPOCH = 71

Wanted = dict[TopicPartition, tuple[int, int]]  # partition -> (fetch offset, max bytes)


@dataclass
class FetchSession:
    """One consumer's session with one broker."""

    id: int = NO_SESSION
    epoch: int = INITIAL_EPOCH
    # What the broker holds for the session after the last answered request.
    held: Wanted = field(default_factory=dict)
    # How this broker has been asked, read by the tests.
    full: int = 0
    incremental: int = 0
    restarts: int = 0

    def restart(self) -> None:
        """The next request is a full one that closes this session and opens another."""
        self.epoch = INITIAL_EPOCH
        self.held = {}
        self.restarts += 1

    def answered(self, request: SessionFetchRequest, response: Any) -> None:
        if request.epoch == FINAL_EPOCH:
            return  # a broker older than sessions: aiokafka's own full fetch was sent
        error = response.error_code
        if error:
            log.info("fetch session %s refused (error %s): a full fetch follows", self.id, error)
            if error == FETCH_SESSION_ID_NOT_FOUND:
                self.id = NO_SESSION
            self.restart()
            return
        self.id = response.session_id
        if self.id == NO_SESSION:
            # The broker keeps no session for us (its cache is full): full fetches it is.
            self.epoch = INITIAL_EPOCH
            self.held = {}
            return
        self.held = request.wanted
        self.epoch = 1 if request.epoch >= MAX_EPOCH else request.epoch + 1


class SessionFetchRequest(FetchRequest):  # type: ignore[misc]
    """A fetch that names only what changed since the session's last request.

    ``topics`` (what aiokafka matches the response against) lists every partition the
    fetcher wants, as a full request would; only the encoded request is incremental.
    """

    def __init__(self, base: FetchRequest, session: FetchSession) -> None:
        super().__init__(
            base._max_wait_ms,
            base._min_bytes,
            base._max_bytes,
            base._isolation_level,
            base.topics,
            rack_id=base._rack_id,
        )
        self.session = session
        self.wanted: Wanted = {
            TopicPartition(topic, partition): (offset, max_bytes)
            for topic, partitions in base.topics
            for partition, offset, max_bytes in partitions
        }
        self.epoch = FINAL_EPOCH

    def build(self, request_struct_class: type[Any]) -> Any:
        version = request_struct_class.API_VERSION
        if version < 7:
            return super().build(request_struct_class)
        session = self.session
        self.epoch = session.epoch
        if session.epoch == INITIAL_EPOCH:
            session.full += 1
            send = self.wanted
            forgotten: dict[str, list[int]] = {}
        else:
            session.incremental += 1
            held = session.held
            send = {tp: v for tp, v in self.wanted.items() if held.get(tp) != v}
            forgotten = {}
            for tp in held:
                if tp not in self.wanted:
                    forgotten.setdefault(tp.topic, []).append(tp.partition)
        by_topic: dict[str, list[tuple[int, ...]]] = {}
        leader_epoch = version >= 9
        for tp, (offset, max_bytes) in send.items():
            row = (
                (tp.partition, -1, offset, -1, max_bytes)
                if leader_epoch
                else (tp.partition, offset, -1, max_bytes)
            )
            by_topic.setdefault(tp.topic, []).append(row)
        args: list[Any] = [
            -1,  # replica_id: a consumer
            self._max_wait_ms,
            self._min_bytes,
            self._max_bytes,
            self._isolation_level,
            session.id,
            session.epoch,
            list(by_topic.items()),
            list(forgotten.items()),
        ]
        if version >= 11:
            args.append(self._rack_id)
        return request_struct_class(*args)


class _SessionClient:
    """The consumer's client, seen by the fetcher: it tells each session how its
    request ended."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @property
    def cluster(self) -> Any:
        # Read for every partition of every fetch: a property, not a __getattr__ miss.
        return self._client.cluster

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def send(self, node_id: int, request: Any, **kwargs: Any) -> Any:
        if not isinstance(request, SessionFetchRequest):
            return await self._client.send(node_id, request, **kwargs)
        try:
            response = await self._client.send(node_id, request, **kwargs)
        except BaseException:
            # The broker may or may not have seen the request: its epoch is unknown.
            request.session.restart()
            raise
        request.session.answered(request, response)
        return response


class SessionFetcher(Fetcher):  # type: ignore[misc]
    """aiokafka's fetcher, with one incremental fetch session per broker."""

    def __init__(self, client: Any, *args: Any, **kwargs: Any) -> None:
        self.sessions: dict[int, FetchSession] = {}
        super().__init__(_SessionClient(client), *args, **kwargs)

    def _get_actions_per_node(self, assignment: Any) -> Any:
        fetch_requests, *rest = super()._get_actions_per_node(assignment)
        sessions = self.sessions
        requests = [
            (node_id, SessionFetchRequest(request, sessions.setdefault(node_id, FetchSession())))
            for node_id, request in fetch_requests
        ]
        return (requests, *rest)


_PLAIN_FETCHER = _consumer_module.Fetcher


def use(sessions: bool) -> None:
    """Every AIOKafkaConsumer of this process started after this call fetches through
    sessions, or in full as aiokafka does. aiokafka's consumer makes its fetcher inside
    ``start()`` with no way to pass another class, so the choice is the module's name."""
    _consumer_module.Fetcher = SessionFetcher if sessions else _PLAIN_FETCHER
