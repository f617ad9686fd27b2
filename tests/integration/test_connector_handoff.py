"""The claims batcher's 837 reaches the clearinghouse through the connector: the
interchange handed over (x12.interchange-ready) waits as a pending upload; a mailbox that
does not answer leaves it pending with the reason and announces nothing; once the upload
and its rename are done, x12.file-sent is announced once, in the upload's transaction.
A tenant no account uploads for is refused with words saying what to do."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator

import orjson
import pytest

from rcm.stack_sftp import accounts_file, mailbox, sftp_down, sftp_up
from runtime.context import Context, Reject
from runtime.service import Service
from runtime.settings import Settings
from schemas.codec import new_meta
from schemas.events_transport import X12InterchangeReady
from services.connector import handlers
from services.connector.app import service
from services.connector.config import Account, ConnectorSettings, load_accounts
from services.connector.mailbox import Link
from services.connector.metrics import ConnectorMetrics
from services.connector.outbound import Sender
from tests.connector_files import claim_837, outbox_left_clean

pytestmark = pytest.mark.integration

if os.geteuid() != 0:
    pytest.skip("the stack's sshd runs only as root", allow_module_level=True)


@pytest.fixture
async def connector(live_stack: Settings) -> AsyncIterator[tuple[Service, ConnectorMetrics]]:
    # a schema of its own: the session's fleet runs a connector whose relay would take
    # the events this test reads from the outbox
    svc, metrics = service(live_stack, schema=f"it_conn_{uuid.uuid4().hex[:8]}")
    await svc.start_resources()
    assert svc.pool is not None
    async with outbox_left_clean(svc.pool):
        yield svc, metrics
    await svc.stop_resources()


@pytest.fixture
def shared(live_stack: Settings) -> Iterator[Account]:
    """The stack's account with its own folder, uploading for any tenant ('*')."""
    base = load_accounts(accounts_file(live_stack))[0]
    tag = uuid.uuid4().hex[:10]
    out = mailbox(live_stack) / "outbound" / tag
    out.mkdir()
    st = (mailbox(live_stack) / "outbound").stat()
    os.chown(out, st.st_uid, st.st_gid)
    yield base.model_copy(
        update={"name": f"h-{tag}", "tenant": f"own-{tag}", "outbound_dir": f"outbound/{tag}"}
    )
    shutil.rmtree(out, ignore_errors=True)


def ready(icn: int) -> X12InterchangeReady:
    text = claim_837(icn).decode()
    return X12InterchangeReady(
        interchange_control_number=f"{icn:09d}", payer_id="ACME1", claims=1, x12=text
    )


async def hand_over(svc: Service, ev: X12InterchangeReady, tenant: str, **kw: object) -> None:
    """What the connector's consumer does with one x12.interchange-ready."""
    assert svc.pool is not None
    meta = new_meta(ev, source="test", tenant=tenant, correlation_id=ev.key())
    async with svc.pool.acquire() as conn, conn.transaction():
        await handlers.on_interchange_ready(Context(conn, svc, meta), ev, **kw)  # type: ignore[arg-type]


async def file_sent(svc: Service, icn: str) -> list[str]:
    """The x12.file-sent events in the connector's outbox for the interchange: the
    remote name each names."""
    assert svc.pool is not None
    rows = await svc.pool.fetch(
        "SELECT value FROM outbox WHERE topic = 'x12.file-sent' AND convert_from(key, 'UTF8') = $1",
        icn,
    )
    return [orjson.loads(r["value"])["name"] for r in rows]


async def send_failed(svc: Service, icn: str) -> list[dict[str, object]]:
    """The x12.file-send-failed events in the connector's outbox for the interchange."""
    assert svc.pool is not None
    rows = await svc.pool.fetch(
        "SELECT value FROM outbox WHERE topic = 'x12.file-send-failed'"
        " AND convert_from(key, 'UTF8') = $1",
        icn,
    )
    return [orjson.loads(r["value"]) for r in rows]


async def test_an_interchange_waits_while_the_mailbox_is_down_and_is_announced_once_there(
    live_stack: Settings, connector: tuple[Service, ConnectorMetrics], shared: Account
) -> None:
    svc, metrics = connector
    assert svc.pool is not None
    icn = int(uuid.uuid4().int % 10**8) + 1
    ev = ready(icn)
    tenant = f"practice-{uuid.uuid4().hex[:6]}"  # no account of its own: the shared one
    down = shared.model_copy(update={"port": 1, "connect_timeout_s": 2})
    await hand_over(svc, ev, tenant, accounts=[down], metrics=metrics)
    await hand_over(svc, ev, tenant, accounts=[down], metrics=metrics)  # redelivered: one row
    sender = Sender(ConnectorSettings(retry_min_s=0.05), down, metrics)
    assert await sender(svc) == 0
    row = await svc.pool.fetchrow(
        "SELECT tenant, state, attempts, last_error, name FROM outbound_files_v1"
        " WHERE account = $1",
        down.name,
    )
    assert (row["tenant"], row["state"], row["attempts"]) == (tenant, "pending", 1)
    assert "unreachable" in row["last_error"]
    assert await file_sent(svc, ev.interchange_control_number) == []  # not there: not sent
    # the reason goes to the claims' timelines (x12.file-send-failed), once per reason
    [failed] = await send_failed(svc, ev.interchange_control_number)
    assert (failed["reason"], failed["attempts"]) == (row["last_error"], 1)
    await asyncio.sleep(0.1)  # the backoff
    assert await sender(svc) == 0  # fails again, the same way: no second announcement
    assert len(await send_failed(svc, ev.interchange_control_number)) == 1
    # the mailbox answers again: uploaded under its final name, announced once
    up = Sender(ConnectorSettings(), shared, metrics)
    await asyncio.sleep(0.2)  # the backoff
    assert await up(svc) == 1
    remote = mailbox(live_stack) / shared.outbound_dir / row["name"]
    assert remote.read_bytes() == ev.x12.encode()
    assert not remote.with_name(remote.name + ".part").exists()
    assert await up(svc) == 0
    assert await file_sent(svc, ev.interchange_control_number) == [row["name"]]


async def test_a_tenant_no_account_uploads_for_is_dead_lettered_with_what_to_do(
    connector: tuple[Service, ConnectorMetrics], shared: Account
) -> None:
    svc, metrics = connector
    own_only = shared.model_copy(update={"send_for": []})
    with pytest.raises(Reject) as refused:
        await hand_over(svc, ready(42), "stranger", accounts=[own_only], metrics=metrics)
    assert refused.value.reason == "no-account"
    assert "no clearinghouse account uploads tenant stranger's 837s" in refused.value.detail
    assert "000000042" in refused.value.detail


async def test_a_resend_uploads_the_same_file_again_once_and_announces_nothing_new(
    live_stack: Settings, connector: tuple[Service, ConnectorMetrics], shared: Account
) -> None:
    svc, metrics = connector
    icn = int(uuid.uuid4().int % 10**8) + 1
    ev = ready(icn)
    tenant = f"practice-{uuid.uuid4().hex[:6]}"
    up = Sender(ConnectorSettings(), shared, metrics)
    await hand_over(svc, ev, tenant, accounts=[shared], metrics=metrics)
    assert await up(svc) == 1
    [name] = await file_sent(svc, ev.interchange_control_number)
    remote = mailbox(live_stack) / shared.outbound_dir / name
    remote.unlink()  # the clearinghouse took it (and lost it: no 999 came)
    again = ev.model_copy(update={"resend": 1})
    await hand_over(svc, again, tenant, accounts=[shared], metrics=metrics)
    await hand_over(svc, again, tenant, accounts=[shared], metrics=metrics)  # redelivered
    assert await up(svc) == 1  # once
    assert await up(svc) == 0
    assert remote.read_bytes() == ev.x12.encode()  # the same content under the same name
    # its claims are submitted already: no second x12.file-sent
    assert await file_sent(svc, ev.interchange_control_number) == [name]


async def test_uploads_share_one_kept_connection_and_a_server_restart_costs_no_failure(
    live_stack: Settings, connector: tuple[Service, ConnectorMetrics], shared: Account
) -> None:
    """Each upload pass used to open a connection (a key exchange and an sshd process
    each); the account's one connection is kept between passes, and when the server
    restarts the next pass opens a new one instead of failing the upload."""
    svc, metrics = connector
    link = Link(shared)
    sender = Sender(ConnectorSettings(retry_min_s=0.05), shared, metrics, link)
    tenant = f"practice-{uuid.uuid4().hex[:6]}"
    icns = [int(uuid.uuid4().int % 10**8) + 1 + k for k in range(3)]
    await hand_over(svc, ready(icns[0]), tenant, accounts=[shared], metrics=metrics)
    assert await sender(svc) == 1
    first = await link.box()
    await hand_over(svc, ready(icns[1]), tenant, accounts=[shared], metrics=metrics)
    assert await sender(svc) == 1
    assert await link.box() is first  # the same connection, not a new one

    await asyncio.to_thread(sftp_down, live_stack)
    await asyncio.to_thread(sftp_up, live_stack)
    for _ in range(50):  # the client reads the server's goodbye
        if first.closed:
            break
        await asyncio.sleep(0.05)
    await hand_over(svc, ready(icns[2]), tenant, accounts=[shared], metrics=metrics)
    assert await sender(svc) == 1  # on a new connection, first time
    assert await link.box() is not first
    for icn in icns:
        assert len(await file_sent(svc, f"{icn:09d}")) == 1
        assert await send_failed(svc, f"{icn:09d}") == []
    link.drop()
