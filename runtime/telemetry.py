"""OpenTelemetry: one trace per claim, carried hop to hop in the traceparent header."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path

import orjson
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()
_exporting = False  # set by setup() when spans go somewhere


def exporting() -> bool:
    """Whether this process records spans. Without, a service hands each event's
    traceparent on unchanged and starts no span: the trace stays whole for free."""
    return _exporting


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


def setup(service: str, exporter: str, directory: Path | None = None) -> None:
    """Installs the SDK tracer with the chosen exporter. With none, OpenTelemetry's no-op
    tracer stays: spans that no one exports cost nothing, and a span started from an
    event's traceparent hands that same context on, so each claim stays one trace."""
    global _exporting
    if exporter == "none":
        return
    _exporting = True
    provider = TracerProvider(resource=Resource.create({"service.name": f"rcm-{service}"}))
    if exporter == "jsonl":
        target = (directory or Path("traces")) / f"{service}.jsonl"
        provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(target)))
    elif exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found]
            OTLPSpanExporter,
        )

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


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
