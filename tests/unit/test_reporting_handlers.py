"""The reporting agents' work on one record, against in-memory stand-ins for faust's
windowed tables: what is added where, and what goes to the dead-letter topic."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.codec import encode, new_meta
from schemas.events import AckKind, Event
from services.reporting.handlers import KpiTables, apply_record, split_key, sums_of
from tests.reporting_data import ack, submitted

pytestmark = pytest.mark.unit


class Window:
    """One key of a windowed table: the current window's value, or the one before."""

    def __init__(self, table: FakeWindowed, key: str) -> None:
        self.table, self.key = table, key

    def current(self) -> Any:
        return self.table.now.get(self.key, {})

    def delta(self, _seconds: float) -> Any:
        return self.table.before.get(self.key, {})


class FakeWindowed:
    def __init__(self) -> None:
        self.now: dict[str, Any] = {}
        self.before: dict[str, Any] = {}
        self.writes = 0

    def __getitem__(self, key: str) -> Window:
        return Window(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes += 1
        self.now[key] = value


def tables() -> KpiTables:
    return KpiTables(hour=FakeWindowed(), day=FakeWindowed(), memo=FakeWindowed())


class Sent(list[tuple[str, bytes | None, bytes, list[tuple[str, bytes]]]]):
    async def __call__(
        self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]
    ) -> None:
        self.append((topic, key, value, headers))


async def feed(
    t: KpiTables,
    sent: Sent,
    ev: Event,
    *,
    tenant: str = "clinic-a",
    partition: int = 2,
    offset: int = 7,
) -> None:
    enc = encode(ev, new_meta(ev, source="t", tenant=tenant, correlation_id=ev.key()))
    await apply_record(
        t,
        sent,
        topic=ev.TOPIC,
        partition=partition,
        offset=offset,
        key=enc.key,
        value=enc.value,
        headers=enc.headers,
    )


async def test_an_event_is_added_once_to_its_hour_and_its_day_under_its_partition() -> None:
    t, sent = tables(), Sent()
    await feed(t, sent, submitted("C1", "MCR01", 15000))
    expected = {"submitted": 1, "submitted_charge_cents": 15000, "@claim.submitted": 7}
    assert t.hour.now == {"2|clinic-a|MCR01": expected}
    assert t.day.now == {"2|clinic-a|MCR01": expected}
    assert (t.hour.writes, t.day.writes) == (1, 1)
    assert not sent


async def test_a_memo_from_the_window_before_still_counts() -> None:
    t, sent = tables(), Sent()
    t.memo.before["clinic-a|C1"] = {"payer": "MCR01", "answered": True}
    await feed(t, sent, ack("C1", AckKind.ack_277ca, True))
    assert t.hour.now == {}  # its first verdict was counted last week


async def test_tenants_keep_their_own_claims_apart() -> None:
    t, sent = tables(), Sent()
    await feed(t, sent, submitted("C1", "MCR01", 100), tenant="clinic-a")
    await feed(t, sent, ack("C1", AckKind.ack_277ca, True), tenant="clinic-b")
    # clinic-b's acknowledgement waits for clinic-b's own submission, never clinic-a's
    assert list(t.hour.now) == ["2|clinic-a|MCR01"]
    assert t.memo.now["clinic-a|C1"] == {"payer": "MCR01", "answered": False, "answered_by": ""}
    assert t.memo.now["clinic-b|C1"]["early"] == ["first_answered", "first_accepted"]


async def test_a_rejection_read_before_its_submission_counts_for_the_claims_payer() -> None:
    t, sent = tables(), Sent()
    await feed(t, sent, ack("C2", AckKind.ack_999, False))
    await feed(t, sent, submitted("C2", "MCR01", 9000))
    assert totals(t) == {
        "submitted": 1,
        "submitted_charge_cents": 9000,
        "rejected": 1,
        "first_answered": 1,
    }
    assert [k.rsplit("|", 1)[1] for k in t.hour.now] == ["MCR01"]


def totals(t: KpiTables) -> dict[str, int]:
    """The hour's sums, as the web view adds them (offsets kept in a value are no sums)."""
    out: dict[str, int] = {}
    for key, fields in t.hour.now.items():
        for s in sums_of(split_key(key)[2], fields):
            out[s.metric] = out.get(s.metric, 0) + s.value
    return out


async def test_events_read_again_after_a_crash_are_counted_once() -> None:
    t, sent = tables(), Sent()
    day = [
        (submitted("C1", "MCR01", 15000), 3),
        (submitted("C2", "MCR01", 9000), 4),
        (ack("C1", AckKind.ack_277ca, False), 10),
    ]
    for ev, offset in day:
        await feed(t, sent, ev, offset=offset)
    for ev, offset in day:  # the worker died before it committed: all read again
        await feed(t, sent, ev, offset=offset)
    assert totals(t) == {
        "submitted": 2,
        "submitted_charge_cents": 24000,
        "first_answered": 1,
        "rejected": 1,
    }
    await feed(t, sent, submitted("C1", "MCR01", 15000), offset=5)  # sent again: a new event
    assert totals(t)["submitted"] == 3


async def test_a_first_verdict_read_again_counts_where_its_window_had_lost_it() -> None:
    """The claim's memo reached Kafka but the hour's sums did not: read again, the
    acknowledgement is still the claim's first verdict, and only once."""
    t, sent = tables(), Sent()
    await feed(t, sent, submitted("C1", "MCR01", 100), offset=1)
    await feed(t, sent, ack("C1", AckKind.ack_277ca, True), offset=2)
    assert t.memo.now["clinic-a|C1"]["answered_by"] == "claim.acknowledged:2:2"
    t.hour.now.pop("2|clinic-a|MCR01")  # its newest sums never reached Kafka
    await feed(t, sent, ack("C1", AckKind.ack_277ca, True), offset=2)
    assert totals(t) == {"first_answered": 1, "first_accepted": 1}
    assert t.day.now["2|clinic-a|MCR01"]["first_answered"] == 1  # the day had it: kept
    await feed(t, sent, ack("C1", AckKind.ack_277ca, True), offset=3)  # a later answer
    assert totals(t) == {"first_answered": 1, "first_accepted": 1}


async def test_a_record_that_is_no_event_goes_to_its_dlq_with_the_reason() -> None:
    t, sent = tables(), Sent()
    ev = submitted("C1", "MCR01", 100)
    enc = encode(ev, new_meta(ev, source="t", tenant="clinic-a", correlation_id="C1"))
    await apply_record(
        t,
        sent,
        topic="claim.submitted",
        partition=1,
        offset=9,
        key=enc.key,
        value=b'{"claim_id": 5',
        headers=enc.headers,
    )
    [(topic, key, value, headers)] = sent
    h = dict(headers)
    assert (topic, key, value) == ("claim.submitted.dlq", enc.key, b'{"claim_id": 5')
    assert h["dlq_reason"] == b"not-json"
    assert h["dlq_source"] == b"claim.submitted:1:9"
    assert h["ce_tenantid"] == b"clinic-a"
    assert t.hour.now == {}


async def test_a_rule_that_fails_dead_letters_the_record_without_its_text() -> None:
    t, sent = tables(), Sent()

    class Broken(FakeWindowed):
        def __getitem__(self, key: str) -> Window:
            raise KeyError(f"patient Jane Doe {key}")

    t.memo = Broken()
    await feed(t, sent, submitted("C1", "MCR01", 100))
    [(_topic, _key, _value, headers)] = sent
    assert dict(headers)["dlq_reason"] == b"handler-failed"
    assert dict(headers)["dlq_error"] == b"KeyError"
