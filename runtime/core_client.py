"""The sender's side of CAQH CORE real-time connectivity: one pooled HTTPS client a
process, the envelope in either form, and a retry policy that cannot flood a payer.

- **One** ``aiohttp.ClientSession`` per process (made on first use, in the running loop):
  keep-alive connections, so a call costs no TLS handshake once the pool is warm.
  (aiohttp, not httpx: httpx's pool cost 2.5 ms of CPU a call under a burst of checks,
  aiohttp's 0.3 ms; docs/performance.md.)
- **The 20-second CORE limit**: every call, retries included, ends within
  ``RCM_CORE_DEADLINE_S`` (20 s); each attempt gets what is left of it.
- **Retries**: only when the answer says "not now" (a timeout, a refused connection,
  HTTP 429/5xx, a busy ErrorCode), at most ``RCM_CORE_MAX_ATTEMPTS`` attempts, with full
  jitter (a random wait up to ``backoff_s * 2**n``); the caller's own queue retries
  later still (eligibility's backoff, claims' status timer).
- **Per-payer concurrency cap** (``RCM_CORE_PER_PAYER``): a burst of checks for one
  payer waits its turn here instead of opening more connections to it.
- **Circuit breaker per payer**: after ``RCM_CORE_BREAKER_FAILURES`` failures in a row
  the payer is not called for ``RCM_CORE_BREAKER_OPEN_S``; then one call tries it.
  While open, calls fail at once with :class:`CoreUnavailable` (the caller's work
  waits in its queue: nothing is lost).

Outcomes: the answer's X12 (:class:`CoreReply`), :class:`CoreUnavailable` (ask again
later) or :class:`CoreRejected` (no retry helps: credentials, sender not authorized,
a malformed envelope, TLS verification, a client certificate the endpoint requires).
Every call counts in ``rcm_core_requests_total{service,payload_type,outcome}``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Histogram
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from yarl import URL

from runtime import core_envelope as ce
from runtime.settings import Settings


class CoreSettings(BaseSettings):
    """RCM_CORE_*: how this process reaches the clearinghouse's CORE endpoint
    (``RCM_CLEARINGHOUSE_URL`` + ``path``)."""

    model_config = SettingsConfigDict(env_prefix="RCM_CORE_", env_file=".env", extra="ignore")

    path: str = Field(default="/core/realtime", description="Appended to RCM_CLEARINGHOUSE_URL")
    form: Literal["soap", "mime"] = Field(
        default="soap", description="SOAP 1.2 + WS-Security, or HTTP MIME multipart"
    )
    sender_id: str = Field(default="", description="CORE SenderID; RCM_X12_SUBMITTER_ID if empty")
    receiver_id: str = Field(
        default="", description="CORE ReceiverID; RCM_X12_RECEIVER_ID if empty"
    )
    username: str = Field(default="", description="UserName / UsernameToken; SenderID if empty")
    password: SecretStr | None = Field(
        default=None, description="Password; RCM_CLEARINGHOUSE_TOKEN if unset"
    )
    ca_file: Path | None = Field(
        default=None,
        description="CA bundle the endpoint's certificate must chain to"
        " (the system's if unset; the local stack's CA under <stack_dir>/core/ca.crt)",
    )
    client_cert: Path | None = Field(default=None, description="Client certificate (PEM)")
    client_key: Path | None = Field(default=None, description="Its private key (PEM)")
    deadline_s: float = Field(
        default=20.0, gt=0, le=20.0, description="Whole call, retries included (CORE: 20 s)"
    )
    max_attempts: int = Field(default=2, ge=1, le=5, description="Attempts within one call")
    backoff_s: float = Field(default=0.2, ge=0, description="Retry wait cap, doubling, jittered")
    per_payer: int = Field(default=32, ge=1, description="Calls in flight to one payer")
    pool: int = Field(default=64, ge=1, description="Connections kept for the process")
    breaker_failures: int = Field(default=5, ge=1, description="Failures in a row: open")
    breaker_open_s: float = Field(default=10.0, ge=0, description="Then one call tries again")


class CoreUnavailable(Exception):
    """No answer this time (timeout, busy, unreachable, circuit open); worth asking later."""


class CoreRejected(Exception):
    """The endpoint refused the request; asking again will not help until someone fixes
    the cause the message names. ``kind``: unauthorized, rejected, tls."""

    def __init__(self, kind: str, message: str, code: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code


@dataclass(frozen=True, slots=True)
class CoreReply:
    payload: str
    payload_id: str
    elapsed_ms: float


class CoreMetrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.requests = Counter(
            "rcm_core_requests",
            "CAQH CORE real-time requests sent, by outcome",
            ["service", "payload_type", "outcome"],
            registry=registry,
        )
        self.seconds = Histogram(
            "rcm_core_request_seconds",
            "CAQH CORE real-time round trip",
            ["service", "payload_type"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20),
        )


@dataclass
class _Breaker:
    failures: int = 0
    open_until: float = 0.0
    probing: bool = False


@dataclass
class CoreClient:
    """One per process; ``exchange`` is safe to call concurrently."""

    cfg: CoreSettings
    s: Settings
    service: str
    registry: CollectorRegistry | None = None
    rng: random.Random = field(default_factory=random.Random)
    _client: aiohttp.ClientSession | None = None
    _payers: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    _breakers: dict[str, _Breaker] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.url = self.s.clearinghouse_url.rstrip("/") + self.cfg.path
        self.sender_id = self.cfg.sender_id or self.s.x12_submitter_id
        self.receiver_id = self.cfg.receiver_id or self.s.x12_receiver_id
        self.username = self.cfg.username or self.sender_id
        secret = self.cfg.password or self.s.clearinghouse_token
        self.password = secret.get_secret_value()
        self.metrics = CoreMetrics(self.registry)

    def http(self) -> aiohttp.ClientSession:
        if self._client is None or self._client.closed:
            self._client = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    ssl=tls_context(self.cfg, self.s),
                    limit=self.cfg.pool,
                    keepalive_timeout=30,
                ),
                timeout=aiohttp.ClientTimeout(total=self.cfg.deadline_s),
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            await asyncio.sleep(0)  # let the connector's transports close

    async def exchange(self, payload_type: str, payload: str, *, payer: str) -> CoreReply:
        """Sends ``payload`` and returns the answer's X12, within the CORE deadline."""
        breaker = self._breakers.setdefault(payer, _Breaker())
        now = time.monotonic()
        if breaker.open_until:  # open: refuse, or let one call through once the time is up
            if now < breaker.open_until or breaker.probing:
                self._count(payload_type, "circuit_open")
                raise CoreUnavailable(
                    f"{payer}: the CORE endpoint failed {breaker.failures} times in a row;"
                    f" not called again for {max(0.0, breaker.open_until - now):.0f} s"
                )
            breaker.probing = True
        sem = self._payers.setdefault(payer, asyncio.Semaphore(self.cfg.per_payer))
        deadline = time.monotonic() + self.cfg.deadline_s
        try:
            async with sem:
                reply = await self._attempts(payload_type, payload, deadline)
        except CoreUnavailable:
            self._failed(breaker)
            raise
        finally:
            breaker.probing = False
        breaker.failures, breaker.open_until = 0, 0.0
        return reply

    def _failed(self, breaker: _Breaker) -> None:
        breaker.failures += 1
        if breaker.failures >= self.cfg.breaker_failures:
            breaker.open_until = time.monotonic() + self.cfg.breaker_open_s

    async def _attempts(self, payload_type: str, payload: str, deadline: float) -> CoreReply:
        attempt = 0
        while True:
            attempt += 1
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise CoreUnavailable(f"no answer within {self.cfg.deadline_s:g} s")
                return await self._once(payload_type, payload, left)
            except CoreUnavailable:
                wait = self.rng.uniform(0, self.cfg.backoff_s * 2 ** (attempt - 1))
                if attempt >= self.cfg.max_attempts or time.monotonic() + wait >= deadline:
                    raise
                await asyncio.sleep(wait)

    async def _once(self, payload_type: str, payload: str, budget_s: float) -> CoreReply:
        env = ce.request(
            payload_type,
            payload,
            sender_id=self.sender_id,
            receiver_id=self.receiver_id,
            at=dt.datetime.now(dt.UTC),
        )
        body, content_type = self.encode(env)
        start = time.perf_counter()
        try:
            async with self.http().post(
                self.url,
                data=body,
                headers={"Content-Type": content_type},
                timeout=aiohttp.ClientTimeout(total=budget_s),
            ) as resp:
                status, kind, content = resp.status, resp.content_type, await resp.read()
                kind = resp.headers.get("Content-Type", kind)
        except TimeoutError:
            self._count(payload_type, "timeout")
            raise CoreUnavailable(f"no answer within {budget_s:.1f} s") from None
        except aiohttp.ClientError as exc:
            tls = tls_problem(exc)
            if tls is None and isinstance(
                exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError
            ):
                tls = await self._tls_diagnosis()
            if tls is not None:
                self._count(payload_type, "tls")
                raise CoreRejected("tls", tls) from None
            self._count(payload_type, "unreachable")
            raise CoreUnavailable(f"CORE endpoint unreachable: {type(exc).__name__}") from None
        elapsed = time.perf_counter() - start
        self.metrics.seconds.labels(self.service, payload_type).observe(elapsed)
        return self._read(env, payload_type, status, kind, content, elapsed * 1000)

    async def _tls_diagnosis(self) -> str | None:
        """A connection reset right after the handshake is how TLS 1.3 servers refuse a
        missing client certificate (their alert is lost with the request they did not
        read). One bare handshake, reading before sending, hears the alert itself."""
        url = URL(self.url)
        if url.scheme != "https" or url.host is None:
            return None
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    url.host, url.port or 443, ssl=tls_context(self.cfg, self.s),
                    server_hostname=url.host,
                ),
                timeout=2.0,
            )  # fmt: skip
        except (OSError, TimeoutError) as exc:
            return tls_problem(exc)
        try:
            first = await asyncio.wait_for(reader.read(1), timeout=1.0)
        except TimeoutError:
            return None  # the server waits for a request, as an HTTP server does
        except OSError as exc:
            return tls_problem(exc)
        finally:
            writer.close()
        if first:
            return None
        # closed on us before we said a word: the server would not keep this TLS session
        if self.cfg.client_cert is None:
            return (
                "TLS: the endpoint closed the connection after the handshake; it requires"
                " a client certificate (RCM_CORE_CLIENT_CERT, RCM_CORE_CLIENT_KEY)"
            )
        return (
            "TLS: the endpoint closed the connection after the handshake; it did not"
            " accept our client certificate (RCM_CORE_CLIENT_CERT)"
        )

    def encode(self, env: ce.Envelope) -> tuple[bytes, str]:
        if self.cfg.form == "soap":
            body = ce.encode_soap(env, username=self.username, password=self.password)
            return body, ce.SOAP_CONTENT_TYPE
        parts = ce.multipart_parts(env, username=self.username, password=self.password)
        return ce.encode_multipart(parts)

    def _read(
        self,
        env: ce.Envelope,
        payload_type: str,
        status: int,
        content_type: str,
        content: bytes,
        elapsed_ms: float,
    ) -> CoreReply:
        try:
            answer = decode_response(content_type, content)
        except ce.EnvelopeError as exc:
            answer = None
            problem = str(exc)
        if answer is None or not answer.error_code:
            if status == 429 or status >= 500:
                self._count(payload_type, f"http_{status}")
                raise CoreUnavailable(f"CORE endpoint answered HTTP {status}")
            if status in (401, 403):
                self._count(payload_type, "unauthorized")
                raise CoreRejected("unauthorized", f"CORE endpoint refused us: HTTP {status}")
            self._count(payload_type, "unreadable")
            why = problem if answer is None else "no ErrorCode in the answer"
            raise CoreRejected("rejected", f"HTTP {status}, not a CORE answer: {why}")
        outcome = ce.classify(answer.error_code)
        self._count(payload_type, outcome.value if outcome != ce.Outcome.OK else "success")
        said = f"{answer.error_code}: {answer.error_message[:200]}".rstrip(": ")
        if outcome == ce.Outcome.RETRY:
            raise CoreUnavailable(f"CORE endpoint busy ({said})")
        if outcome == ce.Outcome.UNAUTHORIZED:
            raise CoreRejected("unauthorized", f"CORE refused our credentials ({said})", said)
        if outcome == ce.Outcome.REJECTED:
            raise CoreRejected("rejected", f"CORE refused the envelope ({said})", said)
        if answer.payload_id != env.payload_id:
            raise CoreRejected("rejected", "the CORE answer names another PayloadID")
        if answer.checksum and answer.checksum.lower() != ce.checksum(answer.payload):
            raise CoreUnavailable("the CORE answer's Checksum does not match its payload")
        return CoreReply(answer.payload, answer.payload_id, elapsed_ms)

    def _count(self, payload_type: str, outcome: str) -> None:
        self.metrics.requests.labels(self.service, payload_type, outcome).inc()


def decode_response(content_type: str, content: bytes) -> ce.Envelope:
    """The answer's envelope, by its Content-Type header (the whole header: a multipart
    answer's boundary is a parameter of it)."""
    if content_type.startswith("multipart/"):
        return ce.Envelope.from_fields(ce.decode_multipart(content, content_type))
    if "xml" in content_type:
        fields, _, _ = ce.decode_soap(content)
        return ce.Envelope.from_fields(fields)
    raise ce.EnvelopeError(f"content type {content_type[:60]!r}")


def tls_context(cfg: CoreSettings, s: Settings) -> ssl.SSLContext:
    """Verification against the configured CA (the local stack's when it exists and none
    is set, else the system's), with the client certificate when one is configured."""
    ca = cfg.ca_file
    if ca is None and (s.stack_dir / "core" / "ca.crt").exists() and s.env != "production":
        ca = s.stack_dir / "core" / "ca.crt"
    ctx = ssl.create_default_context(cafile=str(ca) if ca else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cfg.client_cert is not None:
        ctx.load_cert_chain(str(cfg.client_cert), str(cfg.client_key) if cfg.client_key else None)
    return ctx


def tls_problem(exc: BaseException) -> str | None:
    """A TLS failure in words, or None for any other transport error."""
    seen: BaseException | None = exc
    visited: set[int] = set()
    while seen is not None and id(seen) not in visited:
        visited.add(id(seen))
        inner = getattr(seen, "certificate_error", None)  # aiohttp's wrapper of the ssl error
        if isinstance(inner, BaseException) and inner is not seen:
            seen = inner
            continue
        if isinstance(seen, ssl.SSLCertVerificationError):
            return f"TLS: the endpoint's certificate failed verification ({seen.verify_message})"
        if isinstance(seen, ssl.SSLError):
            reason = (seen.reason or "").upper()
            if "CERTIFICATE_REQUIRED" in reason or "HANDSHAKE_FAILURE" in reason:
                return (
                    "TLS: the endpoint requires a client certificate"
                    " (RCM_CORE_CLIENT_CERT, RCM_CORE_CLIENT_KEY)"
                )
            return f"TLS: handshake failed ({seen.reason or type(seen).__name__})"
        wrapped = getattr(seen, "os_error", None)  # aiohttp's wrapper of a connect error
        seen = wrapped if isinstance(wrapped, BaseException) else seen.__cause__ or seen.__context__
    return None
