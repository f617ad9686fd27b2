"""A service as an operating-system process: faust hosts its worker, lifecycle and web
server; the lifecycle starts the pool, migrations, producer, relay, timers and consumer,
and stops them in the reverse order."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from typing import TYPE_CHECKING, Any

import faust

from runtime import logs, telemetry

if TYPE_CHECKING:
    from runtime.service import Service

GC_GEN0_THRESHOLD = 50_000


def app(name: str, web_port: int, web_host: str) -> faust.App:
    """The faust app hosting a service: its worker, lifecycle and web server (ops routes,
    the simulator's real-time endpoints). Records are read by runtime.consumer, so
    faust's own Kafka consumer and producer are not started."""
    fapp = faust.App(
        f"rcm-{name}",
        store="memory://",
        web_port=web_port,
        web_host=web_host,
        web_bind=web_host,
        web_router_enabled=False,
        web_tables_enabled=False,
        web_graph_enabled=False,
        web_stats_enabled=False,
    )
    fapp.boot_strategy = faust.app.BootStrategy(
        fapp, enable_kafka=False, enable_web=True, enable_sensors=False
    )
    return fapp


class Lifecycle(faust.Service):
    """Starts the pool, migrations, producer and relay, then the consumer; stops the
    consumer (committing what it applied) before the pool closes."""

    def __init__(self, owner: Service, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.owner = owner
        self.consuming: asyncio.Task[None] | None = None

    async def on_start(self) -> None:
        await self.owner.start_resources()
        self.add_future(self.owner.relay_outbox())
        for timer in self.owner.timers():
            self.add_future(timer)
        if self.owner.consumer is not None:
            self.consuming = asyncio.ensure_future(self.owner.consumer.run())

    async def on_stop(self) -> None:
        if self.consuming is not None:
            self.consuming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.consuming
        await self.owner.stop_resources()


def run(svc: Service) -> None:
    """The process entry point: ``python -m services.NAME``."""
    logs.setup(svc.name, svc.settings.log_level)
    telemetry.setup(svc.name, svc.settings.otel_exporter, svc.settings.otel_dir)
    if svc.handlers:
        svc.add_consumer()
    tune_process()
    worker = faust.Worker(
        svc.app,
        loglevel=svc.settings.log_level,
        override_logging=False,
        redirect_stdouts=False,
        quiet=True,
    )
    worker.execute_from_commandline()


def tune_process() -> None:
    """What a service process runs with: uvloop's event loop, and a young generation the
    garbage collector visits less often. Every message allocates a few hundred
    short-lived container objects (pydantic models, records, futures); at the default
    threshold (700) the young generation is collected dozens of times a batch, which was
    ~15 % of a service's CPU (py-spy), and raising it gave the saga +15 % events/s
    (docs/performance.md)."""
    gc.set_threshold(GC_GEN0_THRESHOLD, 50, 1000)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency; this keeps Windows working
        pass
