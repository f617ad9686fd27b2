"""A file uploaded through the gateway takes the connector's path: the gateway announces
it (x12.file-uploaded), the connector checks, keeps and announces it once, and the
uploader reads the outcome, its own tenant's only."""

from __future__ import annotations

import uuid

import pytest

from runtime.context import Context
from runtime.settings import Settings
from services.connector import handlers
from services.connector.app import service
from tests.connector_files import ack_999, outbox_left_clean
from tests.integration.gateway_env import gateway_env, read_topic

pytestmark = pytest.mark.integration


async def test_an_uploaded_file_is_taken_in_once_and_its_outcome_read_by_its_tenant(
    live_stack: Settings,
) -> None:
    svc, metrics = service(live_stack)
    await svc.start_resources()
    data = ack_999(int(uuid.uuid4().int % 10**8))
    assert svc.pool is not None
    try:
        async with (
            outbox_left_clean(svc.pool),
            gateway_env(live_stack, uuid.uuid4().hex[:10]) as env,
        ):
            post = "/v1/x12/files?name=payer-portal.999"
            r = await env.client.post(post, content=data, headers=env.auth("a_all"))
            assert r.status_code == 202, r.text
            receipt = r.json()["receipt"]
            again = await env.client.post(
                "/v1/x12/files?name=renamed.999", content=data, headers=env.auth("a_all")
            )
            assert again.status_code == 202
            bad = await env.client.post(
                "/v1/x12/files?name=../etc", content=data, headers=env.auth("a_all")
            )
            assert bad.status_code == 422
            read_only = await env.client.post(post, content=data, headers=env.auth("a_read"))
            assert read_only.status_code == 403
            assert (await env.client.get(receipt, headers=env.auth("a_read"))).status_code == 404
            uploads = await read_topic(env, "x12.file-uploaded", want=2)
            assert svc.pool is not None
            for msg in uploads:  # what the connector's consumer does with each
                async with svc.pool.acquire() as conn, conn.transaction():
                    await handlers.on_uploaded(
                        Context(conn, svc, msg.meta), msg.event, metrics=metrics
                    )
            r = await env.client.get(receipt, headers=env.auth("a_read"))
            assert r.status_code == 200, r.text
            got = [(x["name"], x["outcome"], x["kind"]) for x in r.json()["receipts"]]
            assert got == [
                ("payer-portal.999", "accepted", "999"),
                ("renamed.999", "duplicate", "999"),
            ]
            other = await env.client.get(receipt, headers=env.auth("b_all"))
            assert other.status_code == 404  # tenant-b never sees tenant-a's file
    finally:
        await svc.stop_resources()
