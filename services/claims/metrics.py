"""rcm_saga_transitions_total{from,to}: claims the saga moved, counted once committed.

A transition is written inside the consumer's batch transaction, in the savepoint of
its message; either can still roll back (a later message's transient failure retries
the whole batch, a handler error rolls its message back). So ``moved`` only notes the
transition against the connection, and the note becomes a count when that
connection's transaction commits: the connection's query log shows the SAVEPOINT /
RELEASE SAVEPOINT / ROLLBACK TO / COMMIT / ROLLBACK statements asyncpg sends, in order.
The logger is attached at the first transition of a transaction and removed at its end,
so other transactions pay nothing. A transition written outside any transaction is
already committed and counts at once.

The counter lives in the service's own registry (``svc.metrics.registry``), so it is
on the service's /metrics with the runtime's metrics.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from prometheus_client import CollectorRegistry, Counter

from runtime.service import Context

NAME = "rcm_saga_transitions"  # exposed as rcm_saga_transitions_total
NO_STATE = "none"  # the "from" of a claim's first state

_COUNTERS: weakref.WeakKeyDictionary[CollectorRegistry, Counter] = weakref.WeakKeyDictionary()
_OPEN: weakref.WeakKeyDictionary[asyncpg.Connection, _Pending] = weakref.WeakKeyDictionary()


def counter(registry: CollectorRegistry) -> Counter:
    """The transitions counter of one registry (created on first use)."""
    c = _COUNTERS.get(registry)
    if c is None:
        c = Counter(
            NAME,
            "Claims moved from one saga state to another (committed transitions)",
            ["from", "to"],
            registry=registry,
        )
        _COUNTERS[registry] = c
    return c


@dataclass(eq=False)  # hashable by identity: asyncpg keeps loggers in a set
class _Pending:
    """Transitions of one open transaction, per savepoint level above where it started."""

    conn: asyncpg.Connection
    counter: Counter
    frames: list[list[tuple[str, str]]] = field(default_factory=lambda: [[]])

    def note(self, pairs: list[tuple[str, str]]) -> None:
        self.frames[-1].extend(pairs)

    def __call__(self, q: Any) -> None:  # an asyncpg LoggedQuery
        text = q.query[:24].lstrip().upper() if isinstance(q.query, str) else ""
        failed = q.exception is not None
        if text.startswith("SAVEPOINT"):
            if not failed:
                self.frames.append([])
        elif text.startswith("RELEASE SAVEPOINT"):
            top = self.frames.pop()
            if not self.frames:  # a savepoint opened before the first note
                self.frames.append([])
            self.frames[-1].extend(top)
        elif text.startswith("ROLLBACK TO"):
            self.frames.pop()
            if not self.frames:
                self.frames.append([])
        elif text.startswith("COMMIT") or text.startswith("END"):
            if not failed:
                for frame in self.frames:
                    for src, dst in frame:
                        self.counter.labels(src, dst).inc()
            self._close()
        elif text.startswith("ROLLBACK") or text.startswith("ABORT"):
            self._close()

    def _close(self) -> None:
        self.frames = [[]]
        _OPEN.pop(self.conn, None)
        self.conn.remove_query_logger(self)


def _connection(conn: Any) -> asyncpg.Connection:
    """The connection itself: a pool's proxy is detached when released, its connection is not."""
    raw = getattr(conn, "_con", None)
    return raw if isinstance(raw, asyncpg.Connection) else conn


def moved(ctx: Context, src: Any, dst: Any, then: Any = None) -> None:
    """Notes that the saga moved a claim src -> dst (and dst -> then when chained)."""
    pairs = [(_label(src), _label(dst))]
    if then is not None:
        pairs.append((_label(dst), _label(then)))
    c = counter(ctx.service.metrics.registry)
    conn = _connection(ctx.conn)
    if not conn.is_in_transaction():
        for a, b in pairs:
            c.labels(a, b).inc()
        return
    pending = _OPEN.get(conn)
    if pending is None:
        pending = _Pending(conn, c)
        _OPEN[conn] = pending
        conn.add_query_logger(pending)
    pending.note(pairs)


def _label(state: Any) -> str:
    if state is None:
        return NO_STATE
    return str(getattr(state, "value", state))
