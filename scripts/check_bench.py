"""Checks what the benchmark smokes in scripts/test.sh printed: every figure present and
sane, in the stage run every instance of the group took part in the drain, and in the
runtime floor every message was applied and published once at every hop.

    python scripts/check_bench.py BENCH_JSON STAGE_JSON FLOOR_JSON
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _fail(why: str) -> None:
    print(f"bench smoke: {why}", file=sys.stderr)
    sys.exit(1)


def check_pipeline(doc: dict[str, Any]) -> None:
    if doc["claims_per_s"] <= 0:
        _fail(f"claims_per_s is {doc['claims_per_s']}")
    for path in ("encounter_to_submitted", "encounter_to_posted"):
        lat = doc["latency_ms"][path]
        if not 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"]:
            _fail(f"latency {path} is not ordered: {lat}")
    for name, svc in doc["services"].items():
        if svc["cpu_s"] <= 0 or svc["peak_rss_mb"] <= 0:
            _fail(f"no CPU or RSS figure for {name}: {svc}")
    cpu = doc["cpu_ms_per_claim"]
    if set(cpu["services"]) != set(doc["services"]):
        _fail(f"CPU per claim misses services: {cpu['services']}")
    if cpu["services_total"] <= 0 or cpu["postgresql"] <= 0:
        _fail(f"no CPU per claim for the services or PostgreSQL: {cpu}")
    if cpu.get("sftp", -1) < 0:  # the SFTP server's share (a small run may use no tick)
        _fail(f"no CPU per claim figure for the SFTP server: {cpu}")
    parts = cpu["services_total"] + cpu["postgresql"] + cpu["kafka"] + cpu["sftp"] + cpu["bench"]
    if parts > 1.1 * cpu["machine"] + 0.5:  # each part is a share of the machine's time
        _fail(f"CPU per claim does not add up: {cpu}")
    probe = doc["host_probe_ms"]
    if not (probe["before"] > 0 and probe["after"] > 0):
        _fail(f"no host speed probe: {probe}")
    pg = doc["postgresql_per_claim"]
    # every claim writes rows in every schema (a batch's transaction carries many claims)
    if pg["transactions"] <= 0 or pg["rows_written"] < 10:
        _fail(f"PostgreSQL's transactions and row writes per claim not counted: {pg}")
    if doc["baseline_msgs_per_s"] <= 0 or not doc["ratio"]:
        _fail("no pass-through baseline")


def check_stage(doc: dict[str, Any]) -> None:
    if not doc["settled"]:
        _fail("the stage run left claims unsettled")
    if doc["backlog_messages"] <= 0 or doc["input_msgs_per_s"] <= 0:
        _fail(f"nothing drained: {doc}")
    detail = doc["instances_detail"]
    if len(detail) != doc["instances"]:
        _fail(f"{doc['instances']} instances asked for, {len(detail)} measured")
    idle = [name for name, d in detail.items() if d["records_consumed"] <= 0]
    if idle:
        _fail(f"instances that took no part in the drain: {idle}")


def check_floor(doc: dict[str, Any]) -> None:
    n = doc["messages"]
    if doc["applied_per_hop"] != [n] * (doc["hops"] + 1):
        _fail(
            f"the floor did not apply each of {n} messages once per hop: {doc['applied_per_hop']}"
        )
    if doc["published_per_topic"] != [n] * (doc["hops"] + 1):
        _fail(f"the floor did not publish each message once: {doc['published_per_topic']}")
    if not doc["exactly_once"] or doc["messages_per_s"] <= 0 or not doc["ratio"]:
        _fail(f"no floor figure: {doc}")
    cpu = doc["cpu_ms_per_message"]
    if cpu["services"] <= 0 or cpu["postgresql"] <= 0:
        _fail(f"no CPU per message for the hops or PostgreSQL: {cpu}")


def main() -> None:
    pipeline, stage, floor = (json.loads(Path(p).read_text()) for p in sys.argv[1:4])
    check_pipeline(pipeline)
    check_stage(stage)
    check_floor(floor)
    print(
        f"bench smoke: {pipeline['claims_per_s']} claims/s end to end;"
        f" stage {stage['stage']} x{stage['instances']}: {stage['input_msgs_per_s']} records/s;"
        f" runtime floor {floor['messages_per_s']} messages/s through {floor['hops']} hops"
    )


if __name__ == "__main__":
    main()
