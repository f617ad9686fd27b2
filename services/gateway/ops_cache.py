"""The ops routes' caches: one consumer-lag read at a time, and answers reused for
``ops_cache_s`` seconds, so a dashboard polling every few seconds costs little."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from runtime import lag as kafka_lag
from runtime.settings import Settings
from services.gateway.config import GatewaySettings
from services.gateway.core import Unavailable


class LagCache:
    """One lag read at a time, its answer reused for ``ttl`` seconds."""

    def __init__(self, s: Settings, g: GatewaySettings) -> None:
        self.s = s
        self.g = g
        self.rows: list[kafka_lag.Lag] | None = None
        self.at = 0.0
        self.lock = asyncio.Lock()

    def _fresh(self) -> bool:
        return self.rows is not None and time.monotonic() - self.at < self.g.ops_cache_s

    async def get(self) -> list[kafka_lag.Lag]:
        if self._fresh():
            assert self.rows is not None
            return self.rows
        async with self.lock:
            if self._fresh():
                assert self.rows is not None
                return self.rows
            try:
                rows = await asyncio.wait_for(
                    kafka_lag.collect(self.s, prefix=self.g.ops_lag_group_prefix),
                    timeout=self.g.ops_lag_timeout_s,
                )
            except Exception as exc:
                raise Unavailable("Kafka did not answer the lag read") from exc
            self.rows, self.at = rows, time.monotonic()
            return rows


class TtlCache:
    """Answers per (route, tenant, parameters), reused for ``ttl`` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.items: dict[tuple[Any, ...], tuple[float, Any]] = {}

    async def get(self, key: tuple[Any, ...], make: Callable[[], Awaitable[Any]]) -> Any:
        now = time.monotonic()
        hit = self.items.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        value = await make()
        if len(self.items) > 1000:
            self.items.clear()
        self.items[key] = (now, value)
        return value


@dataclass(frozen=True)
class OpsTools:
    """What the ops routes share, built once by create_app (``app.state.ops``)."""

    registry: CollectorRegistry
    lags: LagCache
    answers: TtlCache
