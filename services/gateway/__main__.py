"""`python -m services.gateway`: the HTTP gateway on RCM_HTTP_HOST:RCM_GATEWAY_PORT (6100)."""

from __future__ import annotations

import uvicorn

from runtime import logs, telemetry
from runtime.settings import settings
from services.gateway.app import create_app
from services.gateway.config import GatewaySettings


def main() -> None:
    s = settings()
    g = GatewaySettings()
    logs.setup("gateway", s.log_level)
    telemetry.setup("gateway", s.otel_exporter, s.otel_dir)
    app = create_app(s, g)
    telemetry.instrument_fastapi(app)
    uvicorn.run(
        app,
        host=s.http_host,
        port=g.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        # No banner; forwarded headers are read by the app itself, from trusted proxies
        # only (services/gateway/hardening.py), never by uvicorn from whoever sends them.
        server_header=False,
        proxy_headers=False,
        log_config=None,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
