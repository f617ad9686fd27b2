"""Headless Chromium (Debian's package) against a gateway served in the test's process:
the flags this machine needs, a one-time sign-in link, and a reader of the page's DOM."""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import uvicorn

from tests.integration.ops_data import OpsEnv

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1400,1000",
    "--virtual-time-budget=5000",
]


def money(cents: int) -> str:
    sign = "−" if cents < 0 else ""
    d, c = divmod(abs(cents), 100)
    return f"{sign}${d:,}.{c:02d}"


class Cells(HTMLParser):
    """Table rows carrying a data-state, -code, -bucket, -group, -hour or -payer, and the text
    of their cells by class; and the text of elements by id."""

    KEYS = ("data-state", "data-code", "data-bucket", "data-group", "data-hour", "data-payer")

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[tuple[str, str], dict[str, str]] = {}
        self.ids: dict[str, str] = {}
        self.row: tuple[str, str] | None = None
        self.stack: list[tuple[str, str | None, str | None]] = []  # tag, class, id

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr":
            self.row = next(((k, a[k] or "") for k in self.KEYS if k in a), None)
            if self.row is not None:
                self.rows[self.row] = {}
        if tag in ("br", "img", "input", "meta", "link", "circle", "line", "rect", "polyline"):
            return
        self.stack.append((tag, a.get("class"), a.get("id")))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break
        if tag == "tr":
            self.row = None

    def handle_data(self, data: str) -> None:
        for _, _cls, ident in self.stack:
            if ident:
                self.ids[ident] = self.ids.get(ident, "") + data
        if self.row is not None:
            for tag, cls, _ in reversed(self.stack):
                if tag == "td" and cls:
                    for c in cls.split():
                        cells = self.rows[self.row]
                        cells[c] = cells.get(c, "") + data
                    break


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    assert not 6100 <= port <= 6106
    return port


@contextlib.asynccontextmanager
async def serving(env: OpsEnv) -> AsyncIterator[str]:
    """The gateway on a free local port, in this process (its lifespan is the env's)."""
    port = free_port()
    config = uvicorn.Config(
        env.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
        if task.done():
            task.result()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def chromium(*args: str, profile: Path) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM,
        *FLAGS,
        f"--user-data-dir={profile}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out


async def login_link(env: OpsEnv, base: str) -> str:
    r = await env.client.post("/v1/ops/tickets", headers=env.auth("a_ops"))
    assert r.status_code == 200
    return base + r.json()["url"]
