"""PHI-free error text (runtime/errors.py): what a log line, a DLQ header or a span says
about an exception that carries a patient in its message."""

from __future__ import annotations

import datetime as dt
import io
import logging

import asyncpg
import pytest
from pydantic import TypeAdapter, ValidationError

from runtime import errors
from runtime.logs import JsonFormatter

pytestmark = pytest.mark.unit


def check_violation() -> asyncpg.PostgresError:
    exc = asyncpg.CheckViolationError(
        'new row for relation "seen" violates check constraint "seen_recent"'
    )
    exc.sqlstate = "23514"
    exc.detail = "Failing row contains (Zywiecka, 1980-02-03)."
    exc.table_name = "seen"
    exc.constraint_name = "seen_recent"
    return exc


def test_a_constraint_violation_is_said_by_sqlstate_and_constraint_never_by_its_row() -> None:
    exc = check_violation()
    assert errors.reason(exc) == (
        "CheckViolationError [SQLSTATE 23514] table=seen constraint=seen_recent"
    )
    assert errors.sqlstate(exc) == "23514"


def test_a_validation_error_is_said_by_field_and_error_type_never_by_its_input() -> None:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(dt.date).validate_python("Zywiecka 02/03/1980")
    assert "Zywiecka" in str(caught.value)  # what pydantic itself would have said
    assert errors.reason(caught.value) == (
        "ValidationError (1 errors): <root>: date_from_datetime_parsing"
    )


def test_a_logged_traceback_shows_where_and_what_kind_but_no_message() -> None:
    name, born = "Zywiecka", dt.date(1980, 2, 3)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter("unit"))
    log = logging.getLogger("unit.errors")
    log.addHandler(handler)
    try:
        try:
            try:
                raise check_violation()
            except asyncpg.PostgresError as inner:
                raise RuntimeError(f"could not save {name}, born {born}") from inner
        except RuntimeError:
            log.exception("saving failed")
    finally:
        log.removeHandler(handler)
    text = out.getvalue()
    assert "Zywiecka" not in text
    assert "1980-02-03" not in text
    assert "RuntimeError <- CheckViolationError [SQLSTATE 23514]" in text
    assert "test_errors.py" in text  # where it failed is still there


def test_an_instrumentations_exception_record_leaves_the_process_without_its_message() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from runtime.telemetry import PhiFreeExporter

    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(PhiFreeExporter(spans)))
    tracer = provider.get_tracer("unit")
    with pytest.raises(asyncpg.CheckViolationError), tracer.start_as_current_span("GET /x"):
        raise check_violation()  # as FastAPI's instrumentation records it: str(exc), traceback
    with tracer.start_as_current_span("handler") as span:
        errors.mark_span(span, check_violation())
    (plain, marked) = [s.to_json() for s in spans.get_finished_spans()]
    assert "Zywiecka" not in plain + marked
    assert '"exception.type": "asyncpg.exceptions.CheckViolationError"' in plain
    assert "table=seen constraint=seen_recent" in marked


def test_an_unreadable_x12_element_is_said_by_where_it_stands_never_by_what_it_held() -> None:
    from runtime.x12 import X12Error

    exc = X12Error("DMG02 is not a CCYYMMDD date: '1980020X'", segment=7, position=2)
    assert "1980020X" in str(exc)
    assert errors.reason(exc) == "X12Error at segment 7, position 2"
