"""The exactly-once core on its own (runtime.applier, runtime.outbox), driven against a
fake connection: redelivery, isolation of a failing message, the outbox's transaction."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest

from rcm.workload import generate_day
from runtime.context import Context, Reject
from runtime.metrics import Metrics
from runtime.outbox import Outbox
from runtime.service import Record, Service
from runtime.settings import Settings
from schemas.codec import H_ID, encode, new_meta
from schemas.events import EncounterCreated
from tests.unit.fake_pg import FakeConnection

pytestmark = pytest.mark.unit

TOPIC = EncounterCreated.TOPIC
OUT = "it.out"


def _records(n: int) -> list[Record]:
    out = []
    for i, e in enumerate(generate_day(n, 3, tenant="unit")):
        enc = encode(e, new_meta(e, source="rcm/unit", tenant="unit", correlation_id=f"c{i}"))
        out.append(Record(TOPIC, 0, i, enc.key, enc.value, list(enc.headers)))
    return out


def _service(fail: dict[str, Exception] | None = None, *, many: bool = False) -> Service:
    """A service whose handler emits each encounter to OUT, and raises what ``fail``
    names for an encounter id."""
    svc = Service("unit", schema="unit", migrations=Path("."), http_port=6000, s=Settings())
    svc.seen = []  # type: ignore[attr-defined]

    async def one(ctx: Context, ev: EncounterCreated) -> None:
        svc.seen.append(ev.encounter_id)  # type: ignore[attr-defined]
        if fail and ev.encounter_id in fail:
            raise fail[ev.encounter_id]
        await ctx.emit(ev, topic=OUT)

    async def run(items: Sequence[tuple[Context, EncounterCreated]]) -> None:
        for ctx, ev in items:
            await one(ctx, ev)

    if many:
        svc.on_many(EncounterCreated, run)
    else:
        svc.on(EncounterCreated, one)
    return svc


def _ids(records: Sequence[Record]) -> list[str]:
    return [orjson.loads(r.value or b"")["encounter_id"] for r in records]


def _out(conn: FakeConnection) -> list[str]:
    return [orjson.loads(v)["encounter_id"] for t, _, v, _, _ in conn.tables.outbox if t == OUT]


@pytest.mark.parametrize("many", [False, True])
async def test_a_redelivered_message_is_a_no_op(many: bool) -> None:
    svc, conn, records = _service(many=many), FakeConnection(), _records(4)
    await svc.applier.apply(conn, TOPIC, records)
    await svc.applier.apply(conn, TOPIC, records)  # the batch again, as after a crash
    await svc.applier.apply(conn, TOPIC, records[1:2])
    assert svc.seen == _ids(records)  # type: ignore[attr-defined]
    assert _out(conn) == _ids(records)
    assert svc.metrics.duplicates.labels("unit", TOPIC)._value.get() == 5


async def test_the_same_message_twice_in_one_batch_applies_once() -> None:
    svc, conn, records = _service(), FakeConnection(), _records(2)
    await svc.applier.apply(conn, TOPIC, [records[0], records[1], records[0]])
    assert _out(conn) == _ids(records)


@pytest.mark.parametrize("many", [False, True])
@pytest.mark.parametrize(
    ("error", "reason", "detail"),
    [
        (Reject("no-coverage", "plan lapsed"), "no-coverage", "plan lapsed"),
        # the type only: an exception's message may hold PHI (runtime/errors.py)
        (ValueError("bad code"), "handler-error", "ValueError"),
    ],
)
async def test_a_failing_message_goes_one_by_one_and_only_it_is_dead_lettered(
    error: Exception, reason: str, detail: str, many: bool
) -> None:
    records = _records(5)
    bad = _ids(records)[2]
    svc, conn = _service({bad: error}, many=many), FakeConnection()
    await svc.applier.apply(conn, TOPIC, records)
    good = [i for i in _ids(records) if i != bad]
    assert _out(conn) == good  # the fast path's attempt left nothing behind
    assert conn.tables.dead_letters == [(TOPIC, 0, 2, reason, detail)]
    dlq = [(t, k, h) for t, k, _, h, _ in conn.tables.outbox if t == f"{TOPIC}.dlq"]
    assert len(dlq) == 1
    assert dlq[0][1] == records[2].key
    headers = {k: base64.b64decode(v).decode() for k, v in orjson.loads(dlq[0][2])}
    assert (headers["dlq_reason"], headers["dlq_error"]) == (reason, detail)
    assert headers["dlq_source"] == f"{TOPIC}:0:2"
    # the bad one is recorded too: redelivered, it is not dead-lettered again
    assert conn.tables.processed == {(dict(r.headers)[H_ID].decode(), TOPIC) for r in records}
    assert svc.metrics.dead_letters.labels("unit", TOPIC, reason)._value.get() == 1
    # a raised exception's full text is kept, in the restricted table only
    if isinstance(error, Reject):
        assert conn.tables.details == []
    else:
        [(letter, kind, _, full)] = conn.tables.details
        assert (letter, kind) == (1, "ValueError")
        assert "ValueError: bad code" in full


async def test_an_undecodable_record_is_dead_lettered_and_the_rest_applied() -> None:
    records = _records(3)
    broken = Record(TOPIC, 0, 1, None, b"{not json", records[1].headers)
    svc, conn = _service(), FakeConnection()
    await svc.applier.apply(conn, TOPIC, [records[0], broken, records[2]])
    assert _out(conn) == [_ids(records)[0], _ids(records)[2]]
    assert [d[2] for d in conn.tables.dead_letters] == [1]


async def test_an_emitted_event_lands_in_the_outbox_in_the_batch_transaction() -> None:
    svc, conn, records = _service(), FakeConnection(), _records(3)
    await svc.applier.apply(conn, TOPIC, records)
    assert conn.transactions == conn.commits == 1
    assert {row[4] for row in conn.tables.outbox} == {1}
    assert svc.outbox.writes == 1  # one statement for the batch's events


async def test_a_failure_writing_the_outbox_leaves_the_batch_unapplied() -> None:
    svc, conn, records = _service(), FakeConnection(), _records(3)
    execute = conn.execute

    async def down(sql: str, *args: object) -> str:
        if sql.startswith("INSERT INTO outbox"):
            raise ConnectionResetError("PostgreSQL went away")
        return await execute(sql, *args)

    conn.execute = down  # type: ignore[method-assign]
    with pytest.raises(ConnectionResetError):
        await svc.applier.apply(conn, TOPIC, records)
    assert conn.tables.processed == set()  # redelivered, the batch applies in full
    conn.execute = execute  # type: ignore[method-assign]
    await svc.applier.apply(conn, TOPIC, records)
    assert _out(conn) == _ids(records)


async def test_outbox_rows_keep_order_and_headers_and_roll_back_with_their_transaction() -> None:
    outbox, conn = Outbox("unit", "unit", Metrics()), FakeConnection()
    encoded = [
        encode(e, new_meta(e, source="rcm/unit", tenant="unit", correlation_id="c"))
        for e in generate_day(2, 5, tenant="unit")
    ]
    async with conn.transaction():
        await outbox.put_many(conn, encoded)

    async def failing_batch() -> None:
        async with conn.transaction():
            await outbox.put_many(conn, encoded)
            raise RuntimeError("the batch failed")

    with pytest.raises(RuntimeError):
        await failing_batch()
    assert [row[2] for row in conn.tables.outbox] == [e.value for e in encoded]
    first = orjson.loads(conn.tables.outbox[0][3])
    assert [(k, base64.b64decode(v)) for k, v in first] == list(encoded[0].headers)
