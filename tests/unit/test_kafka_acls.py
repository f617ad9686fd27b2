"""Kafka ACLs per service, derived from schemas/topics.py (PRODUCERS) and each service's
handlers: what deploy/k8s's KafkaUsers grant, and the emit check that keeps the table
and the code from drifting."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from deploy.k8s.cluster import SERVICES as DEPLOYED
from runtime.service import Service
from runtime.settings import REPO_ROOT
from schemas.acls import principal, service_acls
from schemas.events import ClaimAdjudicated, ClaimSubmitted
from schemas.topics import PRODUCERS, TOPICS, NotAProducer, produced_by

pytestmark = pytest.mark.unit

K8S = REPO_ROOT / "deploy" / "k8s"

RUNTIME_SERVICES = (
    "eligibility",
    "coding",
    "claims",
    "remittance",
    "statements",
    "simulator",
    "connector",
)


def consumes(name: str) -> tuple[str, ...]:
    return tuple(importlib.import_module(f"services.{name}.app").build().handlers)


def grants(acls: Any) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for a in acls:
        out.setdefault(f"{a.resource_type}:{a.name}", set()).update(a.operations)
    return out


def test_every_topic_has_a_producer_and_every_producer_is_a_service() -> None:
    assert set(PRODUCERS) == {t.name for t in TOPICS}
    # the simulator (the clearinghouse and the payers) answers with files in the mailbox
    producers = {s for who in PRODUCERS.values() for s in who}
    assert producers == {*RUNTIME_SERVICES, "gateway"} - {"simulator"}


def test_claims_writes_its_own_topic_and_reads_only_what_it_consumes() -> None:
    g = grants(service_acls("claims", consumes("claims")))
    assert g["topic:claim.submitted"] == {"Write", "Describe"}
    assert g["topic:claim.adjudicated.dlq"] == {"Write", "Describe"}  # dead letters
    assert g["topic:claim.adjudicated"] == {"Read", "Describe"}
    assert "topic:remit.received" not in g  # the connector's, consumed by remittance
    assert g["group:rcm-claims"] == {"Read", "Describe"}
    assert not [k for k in g if "*" in k]  # no wildcard
    writes = {k.removeprefix("topic:") for k, ops in g.items() if "Write" in ops}
    own = {"claim.submitted", "claim.appeal_sent", "x12.interchange-ready", "claim.acknowledged"}
    assert {w for w in writes if not w.endswith(".dlq")} == own


def test_the_k8s_kafka_users_grant_exactly_the_derived_acls() -> None:
    docs = [d for d in yaml.safe_load_all((K8S / "20-kafka.yaml").read_text()) if d]
    docs += [d for d in yaml.safe_load_all((K8S / "sandbox" / "simulator.yaml").read_text()) if d]
    users = {d["metadata"]["name"]: d for d in docs if d["kind"] == "KafkaUser"}
    for name in DEPLOYED:  # the connector is not in deploy/k8s yet (docs/security.md)
        acls = users[principal(name)]["spec"]["authorization"]["acls"]
        got = {
            (a["resource"]["type"], a["resource"]["name"], op)
            for a in acls
            for op in a["operations"]
        }
        want = {
            (a.resource_type, a.name, op)
            for a in service_acls(name, consumes(name))
            for op in a.operations
        }
        assert got == want, name
        written = {n for (kind, n, op) in got if op == "Write"}
        assert written - {t for t in written if t.endswith(".dlq")} == produced_by(name)


async def test_a_service_cannot_emit_a_topic_the_table_does_not_give_it() -> None:
    svc = Service("claims", schema="claims", migrations=REPO_ROOT, http_port=6199)
    event = ClaimAdjudicated.model_construct()
    with pytest.raises(NotAProducer, match=r"claims emits claim\.adjudicated"):
        svc.may_emit(event)
    svc.may_emit(ClaimSubmitted.model_construct())  # its own: no error
