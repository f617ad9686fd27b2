"""The simulator without a certificate (the sandbox overlays of deploy/k8s and
deploy/compose, which have no local stack CA): its CORE endpoint answers on its own web
server over plain HTTP, in both forms, with the same checks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from runtime import core_envelope as ce
from runtime.service import Service
from runtime.settings import Settings
from services.simulator import app
from services.simulator.config import CoreEndpointSettings, RosterSettings, SimulatorSettings
from tests.throwaway import throwaway_service

pytestmark = pytest.mark.integration


async def test_without_a_certificate_core_answers_on_the_ops_port(
    live_stack: Settings, tmp_path: Path
) -> None:
    def wire(svc: Service) -> None:
        app.wire(svc, SimulatorSettings(delay_s=0), RosterSettings(), cycle_poll_s=3600)
        app.serve_core(svc, CoreEndpointSettings(cert=tmp_path / "none.crt"), RosterSettings())

    env = ce.request("X12_276_Request_005010X212", "ISA*nonsense~", sender_id=live_stack.x12_submitter_id,
                     receiver_id=live_stack.x12_receiver_id, at=dt.datetime.now(dt.UTC))  # fmt: skip
    password = live_stack.clearinghouse_token.get_secret_value()
    async with (
        throwaway_service("simulator", app.MIGRATIONS, wire, live_stack) as svc,
        TestClient(TestServer(svc.app.web.web_app)) as http,
    ):
        soap = await http.post(
            "/core/realtime",
            data=ce.encode_soap(env, username=live_stack.x12_submitter_id, password=password),
            headers={"Content-Type": ce.SOAP_CONTENT_TYPE},
        )
        fields, _, _ = ce.decode_soap(await soap.read())
        body, content_type = ce.encode_multipart(
            ce.multipart_parts(env, username=live_stack.x12_submitter_id, password="wrong")
        )
        mime = await http.post("/core/realtime", data=body, headers={"Content-Type": content_type})
        refused = ce.decode_multipart(await mime.read(), mime.headers["Content-Type"])
    assert soap.status == 200
    assert fields["ErrorCode"] == "PayloadIllegal"
    assert fields["PayloadID"] == env.payload_id
    assert refused["ErrorCode"] == "UnAuthorized"
