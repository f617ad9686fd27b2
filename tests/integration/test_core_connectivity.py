"""CAQH CORE real-time connectivity over real TLS on loopback: the pipeline's client
(runtime/core_client.py) against the simulator's endpoint (services/simulator/core_web.py),
in both envelope forms, and every fault a caller must tell apart: each CORE ErrorCode,
a timeout, a certificate that does not verify, an endpoint that wants a client
certificate, a payer that keeps failing (the circuit opens), a burst for one payer (the
cap holds)."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import time

import httpx
import pytest
from aiohttp import web

from runtime import core_envelope as ce
from runtime.core_client import CoreClient, CoreRejected, CoreUnavailable
from runtime.settings import Settings
from services.simulator import core_web
from tests.integration.core_world import Endpoint, certs, core_endpoint, secret

pytestmark = pytest.mark.integration

ELIG = "X12_270_Request_005010X279A1"
STATUS = "X12_276_Request_005010X212"


async def echo(payload_type: str, x12: str) -> str:
    return f"ANSWER TO {payload_type}: {x12}"


def counted(client: CoreClient, outcome: str, payload_type: str = ELIG) -> float:
    value = client.metrics.requests.labels(client.service, payload_type, outcome)._value.get()
    return float(value)


@pytest.mark.parametrize("form", ["soap", "mime"])
async def test_a_request_in_either_form_gets_its_answer_over_tls(
    live_stack: Settings, form: str
) -> None:
    async with core_endpoint(live_stack, echo) as ep:
        client = ep.client(form=form)
        try:
            reply = await client.exchange(ELIG, "ISA*00*~", payer="PPO01")
            again = await client.exchange(STATUS, "ISA*01*~", payer="PPO01")
        finally:
            await client.close()
    assert reply.payload == f"ANSWER TO {ELIG}: ISA*00*~"
    assert again.payload == f"ANSWER TO {STATUS}: ISA*01*~"
    assert reply.payload_id != again.payload_id
    assert counted(client, "success") == 1
    assert counted(client, "success", STATUS) == 1


async def test_a_wrong_password_and_an_unknown_sender_are_refused_as_unauthorized(
    live_stack: Settings,
) -> None:
    async with core_endpoint(live_stack, echo) as ep:
        wrong = ep.client(password=secret("not-the-password"))
        stranger = ep.client(sender_id="SOMEONEELSE")
        try:
            with pytest.raises(CoreRejected) as bad_password:
                await wrong.exchange(ELIG, "ISA~", payer="PPO01")
            with pytest.raises(CoreRejected) as bad_sender:
                await stranger.exchange(ELIG, "ISA~", payer="PPO01")
        finally:
            await wrong.close()
            await stranger.close()
    assert bad_password.value.kind == "unauthorized"
    assert "UnAuthorized: Authentication failed" in str(bad_password.value)
    assert bad_sender.value.kind == "unauthorized"
    assert "Sender not authorized" in str(bad_sender.value)
    assert counted(wrong, "unauthorized") == 1


@pytest.mark.parametrize("missing", ce.FIELDS)
async def test_each_missing_field_earns_its_required_code(
    live_stack: Settings, missing: str
) -> None:
    """The endpoint's side: a request without a field is answered ``<Field>Required``,
    in the response envelope, with the PayloadID it was sent (when it had one)."""
    env = ce.request(ELIG, "ISA~", sender_id=live_stack.x12_submitter_id,
                     receiver_id=live_stack.x12_receiver_id, at=dt.datetime.now(dt.UTC))  # fmt: skip
    parts = ce.multipart_parts(env, username="RCMPIPELINE", password=_password(live_stack))
    body, content_type = ce.encode_multipart([(k, v) for k, v in parts if k != missing])
    async with core_endpoint(live_stack, echo) as ep:
        tls = ssl.create_default_context(cafile=str(certs(live_stack) / "ca.crt"))
        async with httpx.AsyncClient(verify=tls) as http:
            resp = await http.post(
                ep.url + "/core/realtime", content=body, headers={"Content-Type": content_type}
            )
    answer = ce.Envelope.from_fields(
        ce.decode_multipart(resp.content, resp.headers["content-type"])
    )
    assert resp.status_code == 200
    assert answer.error_code == f"{missing}Required"
    assert answer.payload == ""


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("PayloadIDRequired", "rejected"),
        ("SenderIDRequired", "rejected"),
        ("ReceiverIDIllegal", "rejected"),
        ("VersionMismatch", "rejected"),
        ("ChecksumMismatched", "rejected"),
        ("PayloadIllegal", "rejected"),
        ("UnAuthorized", "unauthorized"),
        ("Sender not authorized", "unauthorized"),
        ("Busy", "retry"),
    ],
)
async def test_each_error_code_is_a_clear_outcome_with_its_metric(
    live_stack: Settings, code: str, kind: str
) -> None:
    """A payer answering every request with ``code``: the caller is told whether to ask
    again (busy) or to stop and fix what the code names (every other)."""

    async def answers_with_code(request: web.Request) -> web.Response:
        fields, _, _ = ce.decode_soap(await request.read())
        req = ce.Envelope.from_fields(fields)
        env = ce.error(req, code, f"the payer says {code}", at=dt.datetime.now(dt.UTC),
                       receiver_id="SIMCLEARHOUSE")  # fmt: skip
        body = ce.encode_soap(env, username=None, password=None, response=True)
        return web.Response(body=body, headers={"Content-Type": ce.SOAP_CONTENT_TYPE})

    app = web.Application()
    app.router.add_post("/core/realtime", answers_with_code)
    async with core_endpoint(live_stack, echo, app=app) as ep:
        client = ep.client(max_attempts=2)
        try:
            if kind == "retry":
                with pytest.raises(CoreUnavailable, match=f"busy \\({code}"):
                    await client.exchange(ELIG, "ISA~", payer="PPO01")
            else:
                with pytest.raises(CoreRejected) as refused:
                    await client.exchange(ELIG, "ISA~", payer="PPO01")
                assert refused.value.kind == kind
                assert refused.value.code.startswith(code)
                assert code in str(refused.value)
        finally:
            await client.close()
    # a busy payer was asked twice (both counted), a refusal once
    assert counted(client, kind) == (2 if kind == "retry" else 1)


async def test_a_payer_slower_than_the_deadline_is_unavailable_within_it(
    live_stack: Settings,
) -> None:
    async def slow(payload_type: str, x12: str) -> str:
        await asyncio.sleep(5)
        return "too late"

    async with core_endpoint(live_stack, slow) as ep:
        client = ep.client(deadline_s=0.6, max_attempts=3)
        start = time.monotonic()
        try:
            with pytest.raises(CoreUnavailable, match="no answer within"):
                await client.exchange(ELIG, "ISA~", payer="PPO01")
            took = time.monotonic() - start
        finally:
            await client.close()
    assert took < 1.2  # the deadline covers every attempt together
    assert counted(client, "timeout") >= 1


async def test_a_certificate_that_does_not_verify_is_refused_not_retried(
    live_stack: Settings,
) -> None:
    """The system's CAs do not know the local stack's CA: the handshake fails, and the
    caller hears it is TLS (retrying cannot fix a certificate)."""
    async with core_endpoint(live_stack, echo) as ep:
        client = ep.client(ca_file=None)
        client.s = client.s.model_copy(update={"stack_dir": live_stack.stack_dir / "nowhere"})
        try:
            with pytest.raises(CoreRejected) as refused:
                await client.exchange(ELIG, "ISA~", payer="PPO01")
        finally:
            await client.close()
    assert refused.value.kind == "tls"
    assert "certificate failed verification" in str(refused.value)
    assert counted(client, "tls") == 1


async def test_an_endpoint_requiring_a_client_certificate(live_stack: Settings) -> None:
    d = certs(live_stack)
    async with core_endpoint(live_stack, echo, client_ca=True) as ep:
        without = ep.client()
        with_cert = ep.client(client_cert=d / "client.crt", client_key=d / "client.key")
        try:
            with pytest.raises(CoreRejected) as refused:
                await without.exchange(ELIG, "ISA~", payer="PPO01")
            reply = await with_cert.exchange(ELIG, "ISA~", payer="PPO01")
        finally:
            await without.close()
            await with_cert.close()
    assert refused.value.kind == "tls"
    assert "requires a client certificate" in str(refused.value)
    assert reply.payload == f"ANSWER TO {ELIG}: ISA~"


async def test_a_failing_payer_opens_its_circuit_and_is_not_flooded(
    live_stack: Settings,
) -> None:
    hits = 0

    async def down(request: web.Request) -> web.Response:
        nonlocal hits
        hits += 1
        return web.Response(status=503, text="down")

    app = web.Application()
    app.router.add_post("/core/realtime", down)
    async with core_endpoint(live_stack, echo, app=app) as ep:
        client = ep.client(max_attempts=1, breaker_failures=3, breaker_open_s=60)
        try:
            for _ in range(10):
                with pytest.raises(CoreUnavailable):
                    await client.exchange(ELIG, "ISA~", payer="PPO01")
            other = await asyncio.gather(
                client.exchange(ELIG, "ISA~", payer="MCR01"), return_exceptions=True
            )
        finally:
            await client.close()
    assert hits == 4  # three to open the circuit, then one for the other payer only
    assert counted(client, "circuit_open") == 7
    assert isinstance(other[0], CoreUnavailable)


async def test_a_burst_for_one_payer_keeps_to_its_cap(live_stack: Settings) -> None:
    in_flight = peak = 0

    async def counting(payload_type: str, x12: str) -> str:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return "ok"

    async with core_endpoint(live_stack, counting) as ep:
        client = ep.client(per_payer=3)
        try:
            replies = await asyncio.gather(
                *(client.exchange(ELIG, f"ISA*{i}~", payer="PPO01") for i in range(20))
            )
        finally:
            await client.close()
    assert [r.payload for r in replies] == ["ok"] * 20
    assert peak == 3


def _password(s: Settings) -> str:
    return s.clearinghouse_token.get_secret_value()


async def test_an_http_401_is_unauthorized_and_a_closed_port_is_unavailable(
    live_stack: Settings,
) -> None:
    async def plain_401(request: web.Request) -> web.Response:
        return web.Response(status=401, text="who are you")

    app = web.Application()
    app.router.add_post("/core/realtime", plain_401)
    async with core_endpoint(live_stack, echo, app=app) as ep:
        client = ep.client()
        try:
            with pytest.raises(CoreRejected, match="HTTP 401") as refused:
                await client.exchange(ELIG, "ISA~", payer="PPO01")
        finally:
            await client.close()
    assert refused.value.kind == "unauthorized"
    closed = Endpoint(ep.url, ep.settings).client(max_attempts=2)  # the server is gone now
    try:
        with pytest.raises(CoreUnavailable, match="unreachable"):
            await closed.exchange(ELIG, "ISA~", payer="PPO01")
    finally:
        await closed.close()
    assert counted(closed, "unreachable") == 2


async def test_calls_reuse_one_tls_connection(live_stack: Settings) -> None:
    """The pooled client keeps its connection: ten calls, one TLS handshake."""
    server = core_web.core_server(live_stack)
    peers: set[tuple[str, int]] = set()

    async def counting(request: web.Request) -> web.Response:
        peers.add(request.transport.get_extra_info("peername"))  # type: ignore[union-attr]
        code, body, kind = await core_web.handle(
            server, echo, request.headers["Content-Type"], await request.read()
        )
        return web.Response(status=code, body=body, headers={"Content-Type": kind})

    app = web.Application()
    app.router.add_post(core_web.PATH, counting)
    async with core_endpoint(live_stack, echo, app=app) as ep:
        client = ep.client()
        try:
            for i in range(10):
                await client.exchange(ELIG, f"ISA*{i}~", payer="PPO01")
        finally:
            await client.close()
    assert len(peers) == 1
