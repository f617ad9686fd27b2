"""The clearinghouse's CAQH CORE real-time endpoint: ``POST /core/realtime`` over HTTPS.

Both forms the Connectivity Rule allows (SOAP 1.2 with a WS-Security UsernameToken, and
HTTP MIME multipart with UserName/Password fields), answered in the form asked. The
envelope is checked as the rule says (:func:`runtime.core_envelope.check`: a missing
field is ``<Field>Required``, a bad one ``<Field>Illegal``, ``VersionMismatch``,
``ChecksumMismatched``); a wrong password is ``UnAuthorized``, a SenderID this
clearinghouse has no agreement with is ``UnAuthorized`` with "Sender not authorized".
An X12 payload the payer cannot read is ``PayloadIllegal`` naming the problem. A whole
request goes to the payer: a 270 to :mod:`services.simulator.eligibility`, a 276 to
:mod:`services.simulator.status`.

The server is a plain aiohttp application (:func:`core_app`) the simulator process
serves on its own TLS port (:func:`serve_tls`, certificate from the local stack's CA;
client certificates required when ``RCM_SIMULATOR_CORE_CLIENT_CA`` is set), and the
tests serve the same way.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web
from faust.web import View

from runtime import core_envelope as ce
from runtime.errors import reason
from runtime.settings import Settings
from runtime.x12 import X12Error
from services.simulator import eligibility, status
from services.simulator.config import ROSTER_WAIT_S, UNKNOWN_GRACE_S

log = logging.getLogger("rcm.simulator.core")

PATH = "/core/realtime"
TYPES = frozenset(ce.RESPONSE_TYPE)

#: Answers one payload of a type: the 271 for a 270, the 277 for a 276.
Answerer = Callable[[str, str], Awaitable[str]]


@dataclass(frozen=True)
class CoreServer:
    """What the endpoint checks a request against."""

    receiver_id: str
    password: str
    senders: frozenset[str]


def core_server(s: Settings, senders: str = "") -> CoreServer:
    """The local clearinghouse: our ReceiverID, RCM_CLEARINGHOUSE_TOKEN as every
    sender's password, and the senders it has an agreement with (the pipeline's
    submitter id unless ``senders``, comma-separated, says others)."""
    named = {x.strip() for x in senders.split(",") if x.strip()}
    return CoreServer(
        receiver_id=s.x12_receiver_id,
        password=s.clearinghouse_token.get_secret_value(),
        senders=frozenset(named or {s.x12_submitter_id}),
    )


def payer_answerer(
    pool_of: Callable[[], asyncpg.Pool],
    s: Settings,
    *,
    grace_s: float = UNKNOWN_GRACE_S,
    roster_feed: eligibility.RosterFeed | None = None,
    roster_wait_s: float = ROSTER_WAIT_S,
) -> Answerer:
    """The simulated payers behind the endpoint."""

    async def answer(payload_type: str, x12: str) -> str:
        if payload_type.startswith("X12_270_"):
            return await eligibility.respond(
                pool_of(), x12, grace_s=grace_s, roster_feed=roster_feed,
                roster_wait_s=roster_wait_s, s=s,
            )  # fmt: skip
        return await status.respond(pool_of(), x12, s)

    return answer


async def handle(
    server: CoreServer, answer: Answerer, content_type: str, body: bytes
) -> tuple[int, bytes, str]:
    """HTTP status, body and content type for one POST (transport-neutral)."""
    soap = "xml" in content_type
    try:
        if soap:
            fields, user, password = ce.decode_soap(body)
        else:
            fields = ce.decode_multipart(body, content_type)
            user, password = fields.get("UserName"), fields.get("Password")
    except ce.EnvelopeError as exc:
        return 400, f"not a CORE envelope: {exc}".encode(), "text/plain"
    req = ce.Envelope.from_fields(fields)
    now = dt.datetime.now(dt.UTC)

    def reply(env: ce.Envelope) -> tuple[int, bytes, str]:
        if soap:
            out = ce.encode_soap(env, username=None, password=None, response=True)
            return 200, out, ce.SOAP_CONTENT_TYPE
        parts = ce.multipart_parts(env, username=None, password=None, response=True)
        return (200, *ce.encode_multipart(parts))

    def fail(code: str, message: str) -> tuple[int, bytes, str]:
        return reply(ce.error(req, code, message, at=now, receiver_id=server.receiver_id))

    good_password = hmac.compare_digest((password or "").encode(), server.password.encode())
    if not user or not good_password:
        return fail("UnAuthorized", "Authentication failed: bad or missing UserName/Password")
    problem = ce.check(req, payload_types=TYPES)
    if problem is not None:
        return fail(*problem)
    if req.sender_id not in server.senders:
        return fail("UnAuthorized", "Sender not authorized")
    if req.receiver_id != server.receiver_id:
        return fail("ReceiverIDIllegal", "ReceiverID is not this clearinghouse")
    try:
        x12 = await answer(req.payload_type, req.payload)
    except X12Error as exc:
        return fail("PayloadIllegal", f"the X12 payload cannot be read: {exc}"[:300])
    return reply(ce.response(req, payload=x12, at=now, receiver_id=server.receiver_id))


def core_app(server: CoreServer, answer: Answerer) -> web.Application:
    async def post(request: web.Request) -> web.Response:
        try:
            code, body, content_type = await handle(
                server, answer, request.headers.get("Content-Type", ""), await request.read()
            )
        except Exception as exc:  # the payer's own fault: a 500 the sender retries
            log.error("CORE request failed: %s", reason(exc))
            return web.Response(status=500, text="clearinghouse error")
        return web.Response(status=code, body=body, headers={"Content-Type": content_type})

    app = web.Application(client_max_size=2 * ce.MAX_PAYLOAD)
    app.router.add_post(PATH, post)
    return app


def faust_view(server: CoreServer, answer: Answerer) -> type[View]:
    """The same endpoint as a view of the service's own web server (plain HTTP: the
    sandbox overlays, which have no certificate)."""

    class CoreRealTime(View):
        async def post(self, request: Any, **kwargs: Any) -> Any:
            code, body, content_type = await handle(
                server, answer, request.headers.get("Content-Type", ""), await request.read()
            )
            return self.bytes(body, status=code, headers={"Content-Type": content_type})

    return CoreRealTime


def server_tls(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    """TLS 1.2+ with the endpoint's certificate; with ``client_ca``, a client
    certificate chaining to it is required."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert), str(key))
    if client_ca is not None:
        ctx.load_verify_locations(cafile=str(client_ca))
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


async def serve_tls(
    app: web.Application, ctx: ssl.SSLContext, host: str, port: int
) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, ssl_context=ctx).start()
    return runner
