"""Every service's ops web server (faust on aiohttp) answers with the security headers and
no server banner: /healthz and /metrics, the simulator's and reporting's routes alike."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from runtime import ops_web, process

pytestmark = pytest.mark.unit


async def test_a_faust_page_carries_the_headers_and_no_banner() -> None:
    fapp = process.app("hardening-test", web_port=65000, web_host="127.0.0.1")
    ops_web.harden(fapp)

    @fapp.page("/v1/thing")
    async def thing(web: Any, request: Any) -> Any:
        return web.json({"ok": True})

    fapp.web.init_server()
    async with TestClient(TestServer(fapp.web.web_app)) as client:  # type: ignore[attr-defined]
        r = await client.get("/v1/thing")
        assert r.status == 200
        assert await r.json() == {"ok": True}
        assert r.headers["Cache-Control"] == "no-store"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Referrer-Policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert r.headers.get("Server", "") == ""  # not "Python/3.11 aiohttp/3.x"
        missing = await client.get("/nowhere")
        assert missing.status == 404
        assert missing.headers.get("Server", "") == ""
