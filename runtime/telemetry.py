"""OpenTelemetry: one trace per claim, carried hop to hop in the traceparent header.

With an exporter set, PostgreSQL statements (asyncpg), Kafka produce calls (aiokafka's
producer) and HTTP requests (FastAPI, :func:`instrument_fastapi`) get spans too, in the
claim's trace. None of them records a patient identifier: statements without their
parameters, produce spans without the record key (a guarantor id is a person's), HTTP
spans without the query string (a claim search names a patient control number)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, Span, SpanKind, Status
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

_propagator = TraceContextTextMapPropagator()
_exporting = False  # set by setup() when spans go somewhere
_producer_spans = False  # set by setup() once aiokafka's producer makes spans

#: Span attributes that would carry what an instrumentor records but must not: the
#: Kafka record key, and an HTTP request's query string.
KAFKA_KEY = "messaging.kafka.message.key"
REDACTED = "redacted"


def exporting() -> bool:
    """Whether this process records spans. Without, a service hands each event's
    traceparent on unchanged and starts no span: the trace stays whole for free."""
    return _exporting


def producer_spans() -> bool:
    """Whether Kafka produce calls make spans (and hand their own traceparent on)."""
    return _producer_spans


class QueriesInTraces(Sampler):
    """Every span, except a PostgreSQL statement that is in no trace: one a batch sends
    for all of its messages (the dedupe insert, the outbox write, deferred writes)
    belongs to no one claim, and would make a trace of its own per statement."""

    _inner = ParentBased(ALWAYS_ON)

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        in_trace = trace.get_current_span(parent_context).get_span_context().is_valid
        if (
            not in_trace
            and attributes
            and ("db.system" in attributes or "db.system.name" in attributes)
        ):
            return SamplingResult(Decision.DROP)
        return self._inner.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return "QueriesInTraces"


class JsonLinesExporter(SpanExporter):
    """One compact JSON object per finished span, appended to a file (tests, local runs)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            ctx = span.get_span_context()
            parent = span.parent
            self._file.write(
                orjson.dumps(
                    {
                        "name": span.name,
                        "trace_id": f"{ctx.trace_id:032x}" if ctx else None,
                        "span_id": f"{ctx.span_id:016x}" if ctx else None,
                        "parent_id": f"{parent.span_id:016x}" if parent else None,
                        "service": span.resource.attributes.get("service.name"),
                        "start": span.start_time,
                        "end": span.end_time,
                        "attributes": dict(span.attributes or {}),
                    }
                ).decode()
                + "\n"
            )
        self._file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._file.close()


class PhiFreeExporter(SpanExporter):
    """Hands spans on without exception text: an instrumentation's ``record_exception``
    (FastAPI, aiokafka, a span left by an exception) stores ``str(exc)`` and the whole
    traceback, which can carry PHI. Exception events keep their type (and the PHI-free
    ``rcm.reason`` runtime.errors.mark_span gives); an error status keeps the type only,
    unless mark_span set it."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([scrub(s) for s in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


_KEPT = ("exception.type", "rcm.reason")


def scrub(span: ReadableSpan) -> ReadableSpan:
    if not any(e.name == "exception" for e in span.events) and not span.status.description:
        return span
    marked = any(
        e.name == "exception" and "rcm.reason" in (e.attributes or {}) for e in span.events
    )
    events = [
        e
        if e.name != "exception"
        else Event(
            e.name, {k: v for k, v in (e.attributes or {}).items() if k in _KEPT}, e.timestamp
        )
        for e in span.events
    ]
    status = span.status
    if status.description and not marked:
        status = Status(status.status_code, status.description.split(":", 1)[0])
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes,
        events=events,
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def setup(service: str, exporter: str, directory: Path | None = None) -> None:
    """Installs the SDK tracer with the chosen exporter. With none, OpenTelemetry's no-op
    tracer stays: spans that no one exports cost nothing, and a span started from an
    event's traceparent hands that same context on, so each claim stays one trace."""
    global _exporting
    if exporter == "none":
        return
    _exporting = True
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"rcm-{service}"}), sampler=QueriesInTraces()
    )
    if exporter == "jsonl":
        target = (directory or Path("traces")) / f"{service}.jsonl"
        provider.add_span_processor(SimpleSpanProcessor(PhiFreeExporter(JsonLinesExporter(target))))
    elif exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(PhiFreeExporter(ConsoleSpanExporter())))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(PhiFreeExporter(OTLPSpanExporter())))
    trace.set_tracer_provider(provider)
    _instrument_clients()


def _instrument_clients() -> None:
    """Spans for PostgreSQL statements and Kafka produce calls. Imported here, so that a
    process without an exporter loads and patches nothing."""
    global _producer_spans
    import aiokafka
    from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.utils import unwrap

    AsyncPGInstrumentor(capture_parameters=False).instrument()  # type: ignore[no-untyped-call]
    kafka = AIOKafkaInstrumentor()
    if not kafka.is_instrumented_by_opentelemetry:
        kafka.instrument(async_produce_hook=_redact_key)
        # The consumer side would be a span per record fetched, beside the span each
        # message gets where it is applied (runtime.applier): the producer only.
        unwrap(aiokafka.AIOKafkaConsumer, "getone")
        unwrap(aiokafka.AIOKafkaConsumer, "getmany")
    _producer_spans = True


async def _redact_key(span: Span, args: Any, kwargs: Any) -> None:
    """Record keys are claim, encounter and guarantor ids; a guarantor id is a person's."""
    span.set_attribute(KAFKA_KEY, REDACTED)


def instrument_fastapi(app: Any) -> None:
    """Server spans for a FastAPI application's requests, when this process exports
    spans (call :func:`setup` first): the path, never the query string, no headers."""
    if not _exporting:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        server_request_hook=without_query,
        excluded_urls="healthz,metrics",
        exclude_spans=["receive", "send"],
    )


def without_query(span: Span, scope: Mapping[str, Any]) -> None:
    """Rewrites the request attributes the ASGI instrumentation sets with the query
    string (http.target, http.url; url.query in the newer conventions) to the path."""
    if not span.is_recording():
        return
    path = str(scope.get("path", ""))
    recorded = getattr(span, "attributes", None) or {}
    if "http.target" in recorded:
        span.set_attribute("http.target", path)
    if "http.url" in recorded:
        url = str(recorded["http.url"]).split("?", 1)[0]
        span.set_attribute("http.url", url)
    if "url.full" in recorded:
        span.set_attribute("url.full", str(recorded["url.full"]).split("?", 1)[0])
    if "url.query" in recorded:
        span.set_attribute("url.query", REDACTED)


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def context_from(traceparent: str | None) -> Context | None:
    if not traceparent:
        return None
    return _propagator.extract({"traceparent": traceparent})


def traceparent_of(span: Span | None = None) -> str | None:
    span = span or trace.get_current_span()
    ctx = span.get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def new_traceparent() -> str:
    """A fresh W3C trace context: the root of one claim's trace, made at intake."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
