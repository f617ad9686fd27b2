"""Without an exporter, telemetry costs nothing: no instrumentation is loaded, nothing
is patched. And an HTTP span keeps the path, never the query string."""

from __future__ import annotations

import subprocess
import sys

import pytest
from opentelemetry.sdk.trace import TracerProvider

from runtime import telemetry
from runtime.settings import REPO_ROOT

pytestmark = pytest.mark.unit

_NONE = """
import sys
import aiokafka, asyncpg
from runtime import telemetry
telemetry.setup("unit", "none")
loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry.instrumentation"))
assert not loaded, loaded
assert not hasattr(aiokafka.AIOKafkaProducer.send, "__wrapped__")
assert not hasattr(asyncpg.connection.Connection.execute, "__wrapped__")
assert not telemetry.exporting() and not telemetry.producer_spans()
"""


def test_no_exporter_loads_and_patches_nothing() -> None:
    subprocess.run([sys.executable, "-c", _NONE], cwd=REPO_ROOT, check=True, timeout=60)


def test_an_http_span_keeps_the_path_and_drops_the_query_string() -> None:
    span = (
        TracerProvider()
        .get_tracer("unit")
        .start_span(
            "GET /v1/claims",
            attributes={
                "http.target": "/v1/claims?patient_control_number=PCN1",
                "http.url": "http://gw/v1/claims?patient_control_number=PCN1",
                "url.query": "patient_control_number=PCN1",
            },
        )
    )
    telemetry.without_query(span, {"path": "/v1/claims"})
    span.end()
    assert dict(span.attributes or {}) == {  # type: ignore[attr-defined]
        "http.target": "/v1/claims",
        "http.url": "http://gw/v1/claims",
        "url.query": telemetry.REDACTED,
    }
