"""The agents' work on one record: decode, ask the domain what it adds, add it to the
window tables. A record that cannot be decoded goes to its topic's dead-letter twin with
the reason, as every service does, and the partition flows on.

Table keys: ``partition|tenant|payer`` -> {metric[:code]: sum}. The partition is in the
key because faust writes a table's changelog to the partition of the event being
processed: a key written from one partition only is restored whole after a restart, and
a reader adds the partitions up. One write per window per event keeps the changelog
small (docs/performance.md).

Read twice, counted once: after a crash the events since the last commit are read again
(services/reporting/commits.py). Each window value keeps, under ``@<topic>``, the offset
of the last event of that topic it holds; an event at or below it is in the sum already.
A claim's memo keeps which acknowledgement was its first verdict, so that verdict read
again is still counted as the first in a window that had not got it. An acknowledgement
read before its claim's submission waits in the memo for the payer the submission names
(domain.ClaimMemo), and is counted in the submission's windows.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from runtime.applier import dead_letter_headers
from schemas.codec import DecodeError, Message, decode
from schemas.events import ClaimAcknowledged, ClaimAdjudicated, ClaimSubmitted
from schemas.topics import dlq_name
from services.reporting import domain
from services.reporting.domain import ClaimMemo, Increment, Metric, Sum

log = logging.getLogger("rcm.reporting")

#: A claim's memo is kept for one to two of these (seconds): its acknowledgements come
#: within days of its submission.
MEMO_WINDOW = 7 * 86400

#: Sends a record to a topic: (topic, key, value, headers).
Send = Callable[[str, bytes | None, bytes, list[tuple[str, bytes]]], Awaitable[Any]]


def table_key(partition: int, tenant: str, payer: str) -> str:
    return f"{partition}|{tenant}|{payer}"


def split_key(key: str) -> tuple[int, str, str]:
    partition, tenant, payer = key.split("|", 2)
    return int(partition), tenant, payer


def field_name(inc: Increment) -> str:
    return f"{inc.metric}:{inc.code}" if inc.code else str(inc.metric)


#: A window value's field naming the offset of the last event it holds from a topic.
MARK = "@"


def sums_of(payer: str, fields: dict[str, int]) -> Iterable[Sum]:
    for name, value in fields.items():
        if name.startswith(MARK):
            continue
        metric, _, code = name.partition(":")
        yield Sum(Metric(metric), payer, code, int(value))


@dataclass
class KpiTables:
    """The tables the agents write, each a faust windowed table relative to the stream (a
    record's Kafka timestamp chooses its window): hourly and daily sums, and each claim's
    memo in windows of MEMO_WINDOW. A memo is looked up in its window and the one before,
    and expires after that: the agent reads its three topics each at its own pace, so a
    claim's decision may be read before its acknowledgement, and a memo deleted at the
    decision would count that acknowledgement as a first verdict again."""

    hour: Any
    day: Any
    memo: Any

    def add(self, key: str, increments: list[Increment], topic: str, offset: int) -> None:
        """Adds one event's increments to its hour and its day, unless a window holds
        that event already (it is read again after a crash)."""
        mark = MARK + topic
        for window in (self.hour, self.day):
            fields = dict(window[key].current())
            if fields.get(mark, -1) >= offset:
                continue
            for inc in increments:
                name = field_name(inc)
                fields[name] = fields.get(name, 0) + inc.amount
            fields[mark] = offset
            window[key] = fields

    def remember(self, key: str, memo: ClaimMemo) -> None:
        """``key``: ``tenant|claim_id`` (one tenant never sees another's claims)."""
        self.memo[key] = memo.to_json()

    def recall(self, key: str) -> ClaimMemo | None:
        window = self.memo[key]
        return ClaimMemo.from_json(window.current() or window.delta(MEMO_WINDOW))


def increments_for(msg: Message, tables: KpiTables, position: str) -> tuple[str, list[Increment]]:
    """The payer the event's increments are for, and the increments; updates the
    claim's memo. ``position``: the event's ``topic:partition:offset``."""
    ev = msg.event
    if isinstance(ev, ClaimSubmitted):
        key = f"{msg.meta.tenant}|{ev.claim_id}"
        incs, memo = domain.on_submitted(ev, tables.recall(key), position)
        tables.remember(key, memo)
        return ev.payer_id, incs
    if isinstance(ev, ClaimAcknowledged):
        key = f"{msg.meta.tenant}|{ev.claim_id}"
        before = tables.recall(key)
        incs, after = domain.on_acknowledged(ev, before, position)
        if after is not None and after != before:
            tables.remember(key, after)
        return (after or before or ClaimMemo("")).payer, incs
    if isinstance(ev, ClaimAdjudicated):
        return ev.payer_id, domain.on_adjudicated(ev)
    return "", []


async def apply_record(
    tables: KpiTables,
    send: Send,
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: list[tuple[str, bytes]],
) -> None:
    position = f"{topic}:{partition}:{offset}"
    try:
        msg = decode(value, headers)
        payer, incs = increments_for(msg, tables, position)
    except DecodeError as exc:
        reason, detail = exc.reason, exc.detail
    except Exception as exc:  # a record the rules cannot take: its class, never its text
        reason, detail = "handler-failed", type(exc).__name__
    else:
        if incs:
            tables.add(table_key(partition, msg.meta.tenant, payer), incs, topic, offset)
        return
    await send(
        dlq_name(topic),
        key,
        value or b"",
        dead_letter_headers(headers, position, reason, detail, service="reporting"),
    )
    log.warning("dead-lettered %s: %s", position, reason, extra={"topic": topic, "reason": reason})
