"""What an ops engineer relies on: one trace per claim, and logs free of PHI."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from tests.conftest import LOGS, TRACES

pytestmark = pytest.mark.e2e


def _spans() -> list[dict[str, object]]:
    spans = []
    for path in TRACES.glob("*.jsonl"):
        spans += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return spans


def test_no_patient_identifier_appears_in_any_service_log(settled_day) -> None:  # type: ignore[no-untyped-def]
    day, _ = settled_day
    logs = {p.name: p.read_text() for p in LOGS.glob("*.log")}
    assert len(logs) >= 6, f"expected every service's log in {LOGS}"
    for enc in day:
        p = enc.patient
        needles = [
            f"{p.first_name} {p.last_name}",
            f"{p.last_name}, {p.first_name}",
            f"{p.last_name.upper()}*{p.first_name.upper()}",
            p.birth_date.isoformat(),
            p.birth_date.strftime("%Y%m%d"),
            p.address.line1,
            p.id,
            *(c.member_id for c in enc.coverages),
        ]
        for name, text in logs.items():
            for needle in needles:
                assert needle not in text, f"{name} logs a patient identifier of {enc.encounter_id}"


def test_one_claim_is_one_trace_across_every_service(settled_day) -> None:  # type: ignore[no-untyped-def]
    _, claim_ids = settled_day
    by_claim: dict[str, list[dict[str, object]]] = defaultdict(list)
    for span in _spans():
        attrs = span.get("attributes") or {}
        claim = attrs.get("rcm.correlation_id") if isinstance(attrs, dict) else None
        if claim in claim_ids:
            by_claim[str(claim)].append(span)
    assert by_claim, f"no spans recorded under {TRACES}"
    full = 0
    for claim, spans in by_claim.items():
        traces = {s["trace_id"] for s in spans}
        assert len(traces) == 1, f"claim {claim} is spread over {len(traces)} traces"
        services = {s["service"] for s in spans}
        if {
            "rcm-eligibility",
            "rcm-coding",
            "rcm-claims",
            "rcm-simulator",
            "rcm-statements",
        } <= services:
            full += 1
    # Every claim that went the whole way (billed to the patient) is one trace end to end.
    assert full >= 10
