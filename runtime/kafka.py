"""aiokafka client settings from one place: bootstrap, security, producer guarantees."""

from __future__ import annotations

import ssl
from typing import Any

from runtime.settings import Settings


def security_config(s: Settings) -> dict[str, Any]:
    cfg: dict[str, Any] = {"security_protocol": s.kafka_security_protocol}
    if s.kafka_security_protocol in ("SSL", "SASL_SSL"):
        cfg["ssl_context"] = ssl.create_default_context(
            cafile=str(s.kafka_ssl_cafile) if s.kafka_ssl_cafile else None
        )
    if s.kafka_security_protocol.startswith("SASL"):
        cfg["sasl_mechanism"] = s.kafka_sasl_mechanism or "PLAIN"
        cfg["sasl_plain_username"] = s.kafka_sasl_username
        cfg["sasl_plain_password"] = (
            s.kafka_sasl_password.get_secret_value() if s.kafka_sasl_password else None
        )
    return cfg


def client_config(s: Settings) -> dict[str, Any]:
    return {"bootstrap_servers": s.kafka_bootstrap, **security_config(s)}


def producer_config(s: Settings) -> dict[str, Any]:
    """Every event is written with acks=all by an idempotent producer, in order per key."""
    return {
        **client_config(s),
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "max_batch_size": 256 * 1024,
        "max_request_size": 2 * 1024 * 1024,
        "compression_type": None,
    }


async def partitions(s: Settings, topics: list[str]) -> list[Any]:
    """Every partition of these topics that exists (aiokafka TopicPartition objects)."""
    from aiokafka import TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**client_config(s))
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return sorted(
        (
            TopicPartition(t["topic"], p["partition"])
            for t in described
            if t.get("error_code") == 0
            for p in t.get("partitions", [])
        ),
        key=lambda tp: (tp.topic, tp.partition),
    )
