"""rcm_http_requests_total and rcm_http_request_seconds: every answer of the gateway,
by method, route template and status."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetrics:
    """rcm_http_requests_total and rcm_http_request_seconds, by route template."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "rcm_http_requests",
            "HTTP requests answered by the gateway",
            ["method", "route", "status"],
            registry=registry,
        )
        self.seconds = Histogram(
            "rcm_http_request_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        # Labelled children, looked up once each (labels() takes a lock every call).
        self._counts: dict[tuple[str, str, int], Any] = {}
        self._times: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            # The template, never the raw path: claim ids must not become label values.
            name = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            if method not in METHODS:
                method = "OTHER"  # label values stay few whatever clients send
            counter = self._counts.get((method, name, status))
            if counter is None:
                counter = self.requests.labels(method, name, str(status))
                self._counts[(method, name, status)] = counter
            timer = self._times.get((method, name))
            if timer is None:
                timer = self.seconds.labels(method, name)
                self._times[(method, name)] = timer
            counter.inc()
            timer.observe(time.perf_counter() - start)
