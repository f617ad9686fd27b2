"""With an exporter, PostgreSQL, Kafka produce and HTTP spans join the claim's trace
and carry no patient identifier."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from runtime.settings import REPO_ROOT, Settings
from runtime.telemetry import new_traceparent
from tests.builders import encounter

pytestmark = pytest.mark.integration


def test_statement_produce_and_http_spans_join_the_trace_without_patient_identifiers(
    live_stack: Settings, tmp_path: Path
) -> None:
    traceparent = new_traceparent()
    trace_id = traceparent.split("-")[1]
    out = f"it.otel.{uuid.uuid4().hex[:6]}"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.integration.telemetry_probe",
            str(tmp_path),
            out,
            traceparent,
        ],
        cwd=REPO_ROOT,
        check=True,
        timeout=120,
    )
    text = (tmp_path / "probe.jsonl").read_text()
    spans = [json.loads(line) for line in text.splitlines()]
    enc = encounter(encounter_id="E-PROBE-1")
    p = enc.patient
    for needle in (p.id, p.first_name, p.last_name, p.address.line1, "E-PROBE-1", "PCN-SECRET-1"):
        assert needle not in text, f"a span records {needle!r}"

    consumer = next(s for s in spans if s["name"] == f"{out}.in process")
    statements = [s for s in spans if s["attributes"].get("db.system") == "postgresql"]
    insert = [s for s in statements if "INSERT INTO effects" in s["attributes"]["db.statement"]]
    assert len(insert) == 1
    assert insert[0]["trace_id"] == trace_id
    assert insert[0]["parent_id"] == consumer["span_id"]
    assert "db.statement.parameters" not in insert[0]["attributes"]
    # what a batch sends for all of its messages belongs to no trace: not recorded
    assert all(s["trace_id"] == trace_id for s in statements)

    (send,) = [s for s in spans if s["name"] == f"{out} send"]
    assert send["trace_id"] == trace_id
    assert send["parent_id"] == consumer["span_id"]
    assert send["attributes"]["messaging.kafka.message.key"] == "redacted"

    (http,) = [s for s in spans if s["attributes"].get("http.route") == "/v1/claims"]
    assert http["trace_id"] == trace_id
    assert "?" not in http["attributes"].get("http.target", "")
    assert "?" not in http["attributes"].get("http.url", "")
