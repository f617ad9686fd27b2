"""The real-time call: POST the 270 to ``{clearinghouse_url}/x12/270``, get the 271 back.

Synchronous HTTP, as CAQH CORE's real-time rule has it (the clearinghouse answers
within the same connection; CORE allows 20 s, the aim here is under 50 ms at p99),
instead of a Kafka request/reply, which would add two produce/consume hops and a
reply topic to every check. One keep-alive connection pool per process.

A :class:`Transport` is any ``async (text) -> text`` callable: the HTTP client here in
production, the same over an in-process aiohttp server in the tests and the benchmark.
It raises :class:`PayerUnavailable` when no usable answer came back (timeout, refused
connection, 5xx, 401): the caller retries later. A 4xx other than 401 means the
clearinghouse could not read our 270: :class:`InquiryRejected`, no retry.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import aiohttp

from runtime.settings import Settings

PATH = "/x12/270"


class PayerUnavailable(Exception):
    """No answer this time; worth asking again."""


class InquiryRejected(Exception):
    """The clearinghouse refused the 270 itself (its text names the problem)."""


class Transport(Protocol):
    async def __call__(self, text: str) -> str: ...


class HttpTransport:
    """aiohttp client with keep-alive; the session is made on first use, in the running loop."""

    def __init__(self, s: Settings, *, timeout_s: float, url: str | None = None) -> None:
        self.url = (url or s.clearinghouse_url).rstrip("/") + PATH
        self.headers = {
            "Authorization": f"Bearer {s.clearinghouse_token.get_secret_value()}",
            "Content-Type": "application/edi-x12",
        }
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self.timeout,
                connector=aiohttp.TCPConnector(limit=64, keepalive_timeout=30),
            )
        return self._session

    async def __call__(self, text: str) -> str:
        try:
            async with self._client().post(
                self.url, data=text.encode(), headers=self.headers
            ) as resp:
                body = await resp.text(encoding="utf-8", errors="replace")
                status = resp.status
        except TimeoutError as exc:
            raise PayerUnavailable(f"no 271 within {self.timeout.total} s") from exc
        except aiohttp.ClientError as exc:
            raise PayerUnavailable(f"clearinghouse unreachable: {type(exc).__name__}") from exc
        if status == 200:
            return body
        if status == 401:
            raise PayerUnavailable("clearinghouse refused the bearer token (401)")
        if status >= 500 or status == 429:
            raise PayerUnavailable(f"clearinghouse answered HTTP {status}")
        raise InquiryRejected(f"HTTP {status}: {body[:300]}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            await asyncio.sleep(0)
