"""A CAQH CORE endpoint for the integration tests: the simulator's own CORE application
(services/simulator/core_web.py) over real TLS on loopback, with the certificates
``rcm stack up`` makes from the local stack's CA, in front of whatever payer a test
brings (the simulator's, or one that misbehaves on purpose); and a pipeline CORE client
pointed at it."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import SecretStr

from rcm.stack import pg_paths, pg_tls_dir
from rcm.stack_tls import core_certificates
from runtime.core_client import CoreClient, CoreSettings
from runtime.settings import Settings
from services.simulator import core_web


def certs(s: Settings) -> Path:
    return core_certificates(s.stack_dir, pg_tls_dir(pg_paths(s)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Endpoint:
    url: str
    settings: Settings  # the pipeline's settings with this endpoint as the clearinghouse

    def client(self, service: str = "test", **cfg: Any) -> CoreClient:
        base: dict[str, Any] = {"ca_file": certs(self.settings) / "ca.crt", "backoff_s": 0.0}
        return CoreClient(CoreSettings(**{**base, **cfg}), self.settings, service)


@asynccontextmanager
async def core_endpoint(
    s: Settings,
    answer: core_web.Answerer,
    *,
    server: core_web.CoreServer | None = None,
    client_ca: bool = False,
    app: web.Application | None = None,
) -> AsyncIterator[Endpoint]:
    """Serves ``answer`` behind the CORE endpoint over TLS (or ``app`` as it is);
    ``client_ca``: client certificates from the stack's CA are required."""
    d = certs(s)
    app = app or core_web.core_app(server or core_web.core_server(s), answer)
    ctx = core_web.server_tls(
        d / "server.crt", d / "server.key", d / "ca.crt" if client_ca else None
    )
    port = free_port()
    runner = await core_web.serve_tls(app, ctx, "127.0.0.1", port)
    url = f"https://127.0.0.1:{port}"
    try:
        yield Endpoint(url, s.model_copy(update={"clearinghouse_url": url}))
    finally:
        await runner.cleanup()


def secret(value: str) -> SecretStr:
    return SecretStr(value)
