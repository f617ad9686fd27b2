"""Reporting: faust agents read claim.submitted, claim.acknowledged and claim.adjudicated
and keep live KPIs in tumbling-window tables (hour and day) whose changelogs are Kafka
topics, so a restarted worker rebuilds them from Kafka alone. Its web view serves them to
the gateway (GET /v1/kpis/live, ops token).

faust does here what it is built for: stream aggregation with windowed tables. The other
services need exactly-once effects in PostgreSQL and read with runtime.consumer instead.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import faust
from faust.transport.producer import ProducerBuffer

from runtime import logs, telemetry
from runtime.kafka import security_config
from runtime.service import tune_process
from runtime.settings import Settings, settings
from schemas.topics import PARTITIONS
from services.reporting import commits, handlers, topics, watchdog, web
from services.reporting.config import ReportingSettings

PORT = 6107
HOUR = 3600
DAY = 86400


def build(s: Settings | None = None, config: ReportingSettings | None = None) -> faust.App:
    s = s or settings()
    cfg = config or ReportingSettings()
    # Every table write queues a changelog record; faust holds the agent back past this
    # many (and warns each time past its default of 100, which a burst always passes).
    ProducerBuffer.max_messages = cfg.changelog_buffer
    gate = commits.Gate()
    app = faust.App(
        cfg.app_id,
        broker=[f"kafka://{b.strip()}" for b in s.kafka_bootstrap.split(",")],
        broker_credentials=_credentials(s),
        store="memory://",
        topic_partitions=PARTITIONS,
        topic_replication_factor=s.kafka_replication_factor,
        processing_guarantee="at_least_once",  # made exact by commits.py and the tables
        Table=commits.table_class(gate),
        broker_commit_interval=cfg.commit_interval_s,
        consumer_auto_offset_reset="earliest",
        web_port=PORT + s.http_port_offset,
        web_host=s.http_host,
        web_bind=s.http_host,
        web_router_enabled=False,
        web_tables_enabled=False,
        web_graph_enabled=False,
        web_stats_enabled=False,
    )
    commits.install(app, gate)
    tables = handlers.KpiTables(
        hour=app.Table("kpi-hour", default=dict, partitions=PARTITIONS)
        .tumbling(HOUR, expires=dt.timedelta(hours=cfg.hours_kept))
        .relative_to_stream(),
        day=app.Table("kpi-day", default=dict, partitions=PARTITIONS)
        .tumbling(DAY, expires=dt.timedelta(days=cfg.days_kept))
        .relative_to_stream(),
        memo=app.Table("claim-memo", default=dict, partitions=PARTITIONS)
        .tumbling(handlers.MEMO_WINDOW, expires=dt.timedelta(seconds=2 * handlers.MEMO_WINDOW))
        .relative_to_stream(),
    )
    source = app.topic(*cfg.source_topics, key_serializer="raw", value_serializer="raw")

    async def send(topic: str, key: bytes | None, value: bytes, headers: Any) -> Any:
        fut = await app.topic(topic, key_serializer="raw", value_serializer="raw").send(
            key=key, value=value, headers=headers
        )
        gate.track(fut)  # a dead letter, too, is in Kafka before its offset is committed
        return fut

    @app.agent(source)
    async def kpis(stream: Any) -> None:
        async for event in stream.events():
            m = event.message
            async with gate.lock:  # a commit waits for this event's writes (commits.py)
                await handlers.apply_record(
                    tables,
                    send,
                    topic=m.topic,
                    partition=m.partition,
                    offset=m.offset,
                    key=m.key,
                    value=m.value,
                    headers=_headers(m.headers),
                )
                event.ack()

    watchdog.install(app, s, cfg.app_id, cfg.source_topics, cfg.stall_check_s)
    web.install(app, tables, s, {"hour": HOUR, "day": DAY})
    return app


def _headers(raw: Any) -> list[tuple[str, bytes]]:
    items = raw.items() if isinstance(raw, dict) else (raw or [])
    return [(k, v) for k, v in items if v is not None]


def _credentials(s: Settings) -> Any:
    """The runtime's Kafka security settings (runtime.kafka), as faust takes them."""
    cfg = security_config(s)
    context = cfg.get("ssl_context")
    if "sasl_mechanism" in cfg:
        return faust.SASLCredentials(
            username=cfg["sasl_plain_username"] or "",
            password=cfg["sasl_plain_password"] or "",
            mechanism=cfg["sasl_mechanism"],
            ssl_context=context,
        )
    return faust.SSLCredentials(context) if context is not None else None


def run() -> None:
    """The process entry point: ``python -m services.reporting``."""
    s = settings()
    logs.setup("reporting", s.log_level)
    telemetry.setup("reporting", s.otel_exporter, s.otel_dir)
    tune_process()
    app = build(s)
    asyncio.run(topics.ensure_changelogs(app, s))
    worker = faust.Worker(
        app, loglevel=s.log_level, override_logging=False, redirect_stdouts=False, quiet=True
    )
    worker.execute_from_commandline()
