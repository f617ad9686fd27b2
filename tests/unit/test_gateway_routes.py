"""The gateway's routers, without I/O: every route but /healthz and the sign-in pages
wants a key before it touches anything, and every JSON answer is declared in the
published OpenAPI (what schemathesis checks the bodies against)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from runtime.settings import Settings
from services.gateway.app import create_app
from services.gateway.config import GatewaySettings
from services.gateway.models import Kpis

pytestmark = pytest.mark.unit

OPEN = {"/healthz", "/v1/ops/login", "/v1/ops/logout"}


def _app() -> Any:
    # Never started: no pool, no producer. A route that reached either would fail.
    return create_app(Settings(ops_token=SecretStr("the-ops-token")), GatewaySettings())


def _operations(app: Any) -> list[tuple[str, str]]:
    spec = app.openapi()
    return [(m.upper(), path) for path, ops in spec["paths"].items() for m in ops]


async def test_every_route_but_health_and_sign_in_answers_401_without_a_key() -> None:
    app = _app()
    ops = [*_operations(app), ("GET", "/openapi.json"), ("GET", "/metrics")]
    assert len(ops) >= 20
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        for method, path in ops:
            if path in OPEN:
                continue
            url = path.replace("{queue}", "holds").replace("{claim_id}", "C1")
            r = await client.request(method, url, headers={"Accept": "application/json"})
            assert r.status_code == 401, (method, path, r.text)
            assert r.headers["WWW-Authenticate"] == "Bearer"
            assert set(r.json()) == {"error", "errors"}
        assert (await client.get("/healthz")).status_code == 503  # not started: no pool


def test_every_json_answer_has_a_declared_schema() -> None:
    spec = _app().openapi()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            ok = {k: v for k, v in op["responses"].items() if k[0] in "23"}
            assert ok, (method, path)
            for status, answer in ok.items():
                content = answer.get("content", {})
                if "text/html" in content:
                    continue
                if "application/pdf" in content:  # a document (an appeal's letter)
                    assert content["application/pdf"]["schema"], (method, path, status)
                    continue
                schema = content["application/json"]["schema"]
                assert schema, (method, path, status)
            if path not in OPEN:
                assert {"401", "403", "422", "429", "503"} <= set(op["responses"]), (method, path)


def test_a_kpi_answer_validates_and_keeps_its_wire_names() -> None:
    answer = {
        "from": "2025-01-01",
        "to": "2025-03-31",
        "as_of": "2025-03-31",
        "days_in_ar": "41.3",
        "ar_open_cents": 125_000,
        "charges_last_90_days_cents": 272_500,
        "clean_claim_rate": "0.9500",
        "first_pass_resolution_rate": None,
        "denial_rate": "0.0500",
        "denial_rate_by_carc": [{"carc": "97", "claims": 1, "rate": "0.0500"}],
        "net_collection_rate": "0.9712",
        "claims_submitted": 20,
        "claims_decided": 20,
        "payments_cents": 240_000,
        "contractual_adjustments_cents": 25_000,
    }
    assert Kpis.model_validate(answer).model_dump(by_alias=True) == answer
    props = _app().openapi()["components"]["schemas"]["Kpis"]["properties"]
    assert set(props) == set(answer)
