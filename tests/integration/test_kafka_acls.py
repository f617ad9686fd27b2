"""Kafka ACLs on a real broker with auth on (`rcm stack up --kafka-auth`'s code: SASL/
SCRAM listener, KRaft's StandardAuthorizer, ACLs from schemas/acls.py): a service's
principal writes its own topics and reads what it consumes, and is refused the rest.

A second broker of its own, on free ports in a temporary folder (the jars of the stack's),
so the shared dev stack keeps auth off; about 15 s."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from rcm.stack_base import Paths, stop_pid
from rcm.stack_kafka import ensure_topics, kafka_up
from rcm.stack_kafka_auth import admin, as_user, grant_all, passwords
from runtime.kafka import client_config, producer_config
from runtime.settings import Settings
from services.reporting.config import ReportingSettings

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
async def secured(
    live_stack: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Settings]:
    root = tmp_path_factory.mktemp("kafka-auth")
    port, controller = _free_port(), _free_port()
    s = live_stack.model_copy(
        update={
            "stack_dir": root,
            "kafka_port": port,
            "kafka_controller_port": controller,
            "kafka_bootstrap": f"127.0.0.1:{port}",
            "kafka_auth": True,
            "kafka_heap": "256m",
        }
    )
    p = Paths(root)
    p.kafka.mkdir(parents=True)
    p.kafka_libs.symlink_to(Paths(live_stack.stack_dir).kafka_libs)
    try:
        kafka_up(s, p)
        await ensure_topics(admin(s))
        await grant_all(s)
        yield s
    finally:
        stop_pid(p.kafka_pid, "the auth test's Kafka")


def user(s: Settings, service: str) -> Settings:
    return as_user(s, f"rcm-{service}", passwords(s)[f"rcm-{service}"])


async def produce(s: Settings, topic: str, value: bytes) -> None:
    producer = AIOKafkaProducer(**producer_config(s), request_timeout_ms=10000)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=b"k")
    finally:
        await producer.stop()


async def consume(s: Settings, topic: str, group: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **client_config(s),
    )
    try:
        await consumer.start()
        got = await consumer.getmany(timeout_ms=8000)
        return [r.value for records in got.values() for r in records if r.value is not None]
    finally:
        await consumer.stop()


async def test_a_service_writes_its_topic_and_reads_what_it_consumes(secured: Settings) -> None:
    mark = uuid.uuid4().hex.encode()
    await produce(user(secured, "claims"), "claim.submitted", mark)  # claims' own topic
    assert mark in await consume(user(secured, "remittance"), "claim.submitted", "rcm-remittance")
    await produce(user(secured, "claims"), "claim.adjudicated.dlq", mark)  # a dead letter


async def test_a_service_cannot_write_a_topic_it_does_not_own(secured: Settings) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(user(secured, "claims"), "remit.received", b"forged 835")
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(user(secured, "claims"), "claim.adjudicated", b"forged payment")


async def test_a_service_cannot_read_a_topic_it_does_not_consume(secured: Settings) -> None:
    await produce(user(secured, "connector"), "remit.received", b"an 835 with PHI")
    with pytest.raises(TopicAuthorizationFailedError):
        await consume(user(secured, "claims"), "remit.received", "rcm-claims")
    with pytest.raises(GroupAuthorizationFailedError):  # nor in another service's group
        await consume(user(secured, "claims"), "claim.adjudicated", "rcm-remittance")


async def test_a_wrong_password_is_refused(secured: Settings) -> None:
    with pytest.raises(KafkaError):
        await produce(as_user(secured, "rcm-claims", "guess"), "claim.submitted", b"x")


def test_the_users_passwords_are_kept_for_the_owner_only(secured: Settings) -> None:
    path = Path(secured.stack_dir) / "kafka-users.json"
    assert path.stat().st_mode & 0o077 == 0


async def test_reporting_reads_its_sources_keeps_its_changelogs_and_writes_nothing_else(
    secured: Settings,
) -> None:
    app_id = ReportingSettings().app_id
    reporting = as_user(secured, app_id, passwords(secured)[app_id])
    mark = uuid.uuid4().hex.encode()
    await produce(user(secured, "claims"), "claim.submitted", mark)
    assert mark in await consume(reporting, "claim.submitted", app_id)  # a source, its group
    # a table's changelog: it makes the topic, writes it and reads it back to restore
    changelog = f"{app_id}-it-{uuid.uuid4().hex[:8]}-changelog"
    client = AIOKafkaAdminClient(**client_config(reporting))
    await client.start()
    try:
        await client.create_topics([NewTopic(changelog, 1, 1)])
    finally:
        await client.close()
    await produce(reporting, changelog, mark)
    assert mark in await consume(reporting, changelog, app_id)
    await produce(reporting, "claim.adjudicated.dlq", mark)  # a dead letter of a source
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(reporting, "claim.adjudicated", b"forged payment")
    with pytest.raises(TopicAuthorizationFailedError):
        await consume(reporting, "remit.received", app_id)  # not a source: PHI it never needs
