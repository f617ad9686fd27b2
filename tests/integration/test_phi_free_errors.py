"""A message carrying a known patient (name, birth date) through every way a message
fails: a PostgreSQL constraint whose DETAIL echoes the row ("Failing row contains (...)"),
a pydantic validation error echoing its input, and a body that fails its contract. The
patient is nowhere it must not be: the DLQ headers, dead_letters.error, the logs, the
metrics and the exported spans; only the restricted dead_letter_details keeps the full
text (real Kafka and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import io
import logging
import uuid

import orjson
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import generate_latest
from pydantic import TypeAdapter

from rcm import dlq
from runtime import telemetry
from runtime.logs import JsonFormatter
from runtime.service import Context, Record, Service
from runtime.settings import Settings
from schemas.codec import encode, new_meta
from schemas.events import EncounterCreated
from tests.builders import encounter
from tests.integration.gateway_env import drop_topics
from tests.integration.test_runtime import MIGRATIONS
from tests.throwaway import throwaway_service
from tests.unit.factories import person

pytestmark = pytest.mark.integration

NAME, FIRST, DOB = "Zywiecka", "Bozenna", dt.date(1980, 2, 3)
PHI = (NAME, FIRST, "1980-02-03", "02/03/1980")


def wire(svc: Service) -> None:
    async def handler(ctx: Context, enc: EncounterCreated) -> None:
        if enc.encounter_id == "E-PG":  # trips the CHECK: PostgreSQL echoes the row
            await ctx.conn.execute(
                "INSERT INTO seen(first_name, last_name, birth_date) VALUES ($1, $2, $3)",
                enc.patient.first_name,
                enc.patient.last_name,
                enc.patient.birth_date,
            )
        elif enc.encounter_id == "E-PYD":  # pydantic echoes input_value
            p = enc.patient
            TypeAdapter(dt.date).validate_python(f"{p.last_name} {p.birth_date:%m/%d/%Y}")
        else:
            await ctx.conn.execute(
                "INSERT INTO effects(encounter_id) VALUES ($1)", enc.encounter_id
            )

    svc.on(EncounterCreated, handler, topic=svc.name)


def record(topic: str, offset: int, value: bytes, headers: list[tuple[str, bytes]]) -> Record:
    return Record(topic, 0, offset, b"k", value, headers)


def messages(topic: str) -> list[Record]:
    patient = person(first_name=FIRST, last_name=NAME, birth_date=DOB)
    out = []
    for n, eid in enumerate(["E-OK", "E-PG", "E-PYD"]):
        enc = encounter(encounter_id=eid, patient=patient)
        x = encode(enc, new_meta(enc, source="test", tenant="t1", correlation_id=f"C-{eid}"))
        out.append(record(topic, n, x.value, x.headers))
    enc = encounter(encounter_id="E-BAD", patient=patient)
    x = encode(enc, new_meta(enc, source="test", tenant="t1", correlation_id="C-E-BAD"))
    body = orjson.loads(x.value)
    body["patient"]["birth_date"] = f"{NAME} {DOB:%m/%d/%Y}"
    body["patient"]["last_name"] = NAME * 9
    out.append(record(topic, 3, orjson.dumps(body), x.headers))
    return out


def leaks(text: str) -> list[str]:
    return [p for p in PHI if p in text]


async def test_a_patient_in_a_failing_message_is_only_in_the_restricted_table(
    live_stack: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    topic = f"it-phi-{uuid.uuid4().hex[:8]}"
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    monkeypatch.setattr(telemetry, "_exporting", True)
    logged = io.StringIO()
    handler = logging.StreamHandler(logged)
    handler.setFormatter(JsonFormatter("it"))
    logging.getLogger().addHandler(handler)
    caplog.set_level(logging.INFO)
    try:
        async with throwaway_service(topic, MIGRATIONS, wire, live_stack) as svc:
            assert svc.pool is not None
            await svc.pool.execute(
                "CREATE TABLE seen (first_name text, last_name text, birth_date date,"
                " CONSTRAINT seen_recent CHECK (birth_date > '2000-01-01'))"
            )
            svc.applier.tracer = provider.get_tracer("it")
            await svc.process(topic, messages(topic))
            assert await svc.pool.fetchval("SELECT count(*) FROM effects") == 1
            dead = await svc.pool.fetch(
                'SELECT "offset", reason, error FROM dead_letters ORDER BY "offset"'
            )
            details = await svc.pool.fetch("SELECT detail FROM dead_letter_details")
            metrics = generate_latest(svc.metrics.registry).decode()
            await svc.relay_once()
        letters = await dlq.read(live_stack, [f"{topic}.dlq"])
    finally:
        logging.getLogger().removeHandler(handler)
        await drop_topics(live_stack, topic)

    assert [(d["offset"], d["reason"]) for d in dead] == [
        (1, "handler-error"),
        (2, "handler-error"),
        (3, "schema-invalid"),
    ]
    # The patient is nowhere but the restricted table...
    assert [leaks(d["error"]) for d in dead] == [[], [], []]
    # ... and each failure is still said, by type, SQLSTATE, constraint or field.
    assert dead[0]["error"].startswith("CheckViolationError [SQLSTATE 23514] schema=it_")
    assert dead[0]["error"].endswith(" table=seen constraint=seen_recent")
    assert dead[1]["error"] == "ValidationError (1 errors): <root>: date_from_datetime_parsing"
    assert "patient.birth_date: date_from_datetime_parsing" in dead[2]["error"]
    assert "patient.last_name: string_too_long" in dead[2]["error"]
    assert len(letters) == 3
    for d in letters:
        assert leaks(repr([(k, v) for k, v in d.headers if k.startswith("dlq_")])) == []
    assert [d.error for d in letters] == [d["error"] for d in dead]
    assert leaks(logged.getvalue()) == []
    assert "handler failed; dead-lettering: CheckViolationError" in logged.getvalue()
    assert leaks(caplog.text) == []
    assert leaks(metrics) == []
    exported = [s.to_json() for s in spans.get_finished_spans()]
    assert any("CheckViolationError [SQLSTATE 23514]" in s for s in exported)
    assert [leaks(s) for s in exported if leaks(s)] == []
    # The full text (with the patient, as PostgreSQL and pydantic said it) is kept here only.
    assert [bool(leaks(d["detail"])) for d in details] == [True, True, True]
