"""The connector against the stack's real OpenSSH server: files come in whole and once
(archived only after their receipt is kept), broken or repeated files are refused or
marked duplicate with the reason, uploads land under their final name only once
complete, and every mailbox failure (unreachable, refused login, changed host key) is
told apart, counted, and retried or stops the account."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rcm import cli
from rcm.stack_sftp import accounts_file, mailbox, sftp_down, sftp_up
from runtime.service import Service
from runtime.settings import Settings
from services.connector import intake
from services.connector.app import service
from services.connector.config import Account, ConnectorSettings, load_accounts
from services.connector.envelope import check
from services.connector.mailbox import (
    AUTH,
    HOST_KEY,
    UNREACHABLE,
    Mailbox,
    MailboxError,
    sha256,
)
from services.connector.metrics import ConnectorMetrics
from services.connector.outbound import Sender, file_name, send
from services.connector.poller import Poller
from tests.connector_files import (
    ack_277ca,
    ack_999,
    claim_837,
    outbox_left_clean,
    remit_835,
    status_277,
)

pytestmark = pytest.mark.integration

runner = CliRunner()
cli._register_subcommands()  # as `rcm` does: `rcm x12 import`

if os.geteuid() != 0:
    pytest.skip("the stack's sshd runs only as root", allow_module_level=True)


@pytest.fixture
async def connector(live_stack: Settings) -> AsyncIterator[tuple[Service, ConnectorMetrics]]:
    svc, metrics = service(live_stack)
    await svc.start_resources()
    assert svc.pool is not None
    async with outbox_left_clean(svc.pool):
        yield svc, metrics
    await svc.stop_resources()


@pytest.fixture
def account(live_stack: Settings) -> Iterator[Account]:
    """The stack's account with its own tenant and folders, so tests do not meet."""
    base = load_accounts(accounts_file(live_stack))[0]
    tag = uuid.uuid4().hex[:10]
    owner = _owner(live_stack)
    folders = [mailbox(live_stack) / f / tag for f in ("inbound", "archive", "outbound")]
    for d in folders:
        d.mkdir()
        os.chown(d, *owner)
    yield base.model_copy(
        update={
            "name": f"t-{tag}",
            "tenant": f"tenant-{tag}",
            "inbound_dir": f"inbound/{tag}",
            "archive_dir": f"archive/{tag}",
            "outbound_dir": f"outbound/{tag}",
        }
    )
    for d in folders:
        shutil.rmtree(d, ignore_errors=True)


def _owner(s: Settings) -> tuple[int, int]:
    st = (mailbox(s) / "inbound").stat()
    return st.st_uid, st.st_gid


def deliver(s: Settings, account: Account, name: str, data: bytes) -> Path:
    """The clearinghouse's back end puts a file in the account's inbound folder."""
    path = mailbox(s) / account.inbound_dir / name
    path.write_bytes(data)
    os.chown(path, *_owner(s))
    return path


def remit(trace: str) -> bytes:
    """The shipped 835 with its own check trace number (TRN02), so each test's is new."""
    return remit_835().replace(b"TRN*1*12345*", f"TRN*1*{trace}*".encode())


async def receipts(svc: Service, account: Account) -> list[tuple[str, str, str, str]]:
    assert svc.pool is not None
    rows = await svc.pool.fetch(
        "SELECT name, outcome, reason, coalesce(remote_done, '') AS remote FROM receipts_v1"
        " WHERE account = $1 ORDER BY receipt_id",
        account.name,
    )
    return [(r["name"], r["outcome"], r["reason"], r["remote"]) for r in rows]


async def announced(svc: Service, keys: list[str]) -> dict[str, int]:
    """How many events wait in the connector's outbox for each key (sha or TRN02)."""
    assert svc.pool is not None
    rows = await svc.pool.fetch(
        "SELECT convert_from(key, 'UTF8') AS k, topic FROM outbox WHERE convert_from(key,"
        " 'UTF8') = ANY($1::text[])",
        keys,
    )
    out: dict[str, int] = {}
    for r in rows:
        out[f"{r['topic']}:{r['k']}"] = out.get(f"{r['topic']}:{r['k']}", 0) + 1
    return out


def poller(account: Account, metrics: ConnectorMetrics) -> Poller:
    return Poller(ConnectorSettings(retry_min_s=0.05), account, metrics)


async def test_each_kind_is_taken_in_once_announced_and_archived(
    live_stack: Settings, connector: tuple[Service, ConnectorMetrics], account: Account
) -> None:
    svc, metrics = connector
    trace, icn = uuid.uuid4().hex[:12], _icn()
    a999, a277 = ack_999(icn), ack_277ca(icn + 1)
    deliver(live_stack, account, "remit.835", remit(trace))
    deliver(live_stack, account, "ack.999", a999)
    deliver(live_stack, account, "ack.277ca", a277)
    p = poller(account, metrics)
    assert await p(svc) == 3
    assert await p(svc) == 0  # nothing new
    got = await receipts(svc, account)
    assert {(n, o) for n, o, _, _ in got} == {
        ("remit.835", "accepted"),
        ("ack.999", "accepted"),
        ("ack.277ca", "accepted"),
    }
    assert all(remote.startswith(account.archive_dir) for *_, remote in got)
    inbound = mailbox(live_stack) / account.inbound_dir
    archive = mailbox(live_stack) / account.archive_dir
    assert list(inbound.iterdir()) == []
    assert sorted(p.name for p in archive.iterdir()) == ["ack.277ca", "ack.999", "remit.835"]
    assert await announced(svc, [trace, sha256(a999), sha256(a277)]) == {
        f"remit.received:{trace}": 1,
        f"x12.file-received:{sha256(a999)}": 1,
        f"x12.file-received:{sha256(a277)}": 1,
    }
    value = metrics.files.labels(account.name, "835", "accepted")._value.get()
    assert value == 1


async def test_the_same_file_twice_or_under_two_names_is_announced_once(
    live_stack: Settings, connector: tuple[Service, ConnectorMetrics], account: Account
) -> None:
    svc, metrics = connector
    trace = uuid.uuid4().hex[:12]
    deliver(live_stack, account, "era-1.835", remit(trace))
    deliver(live_stack, account, "era-1-copy.835", remit(trace))
    p = poller(account, metrics)
    assert await p(svc) == 2
    deliver(live_stack, account, "era-1.835", remit(trace))  # delivered again, same name
    assert await p(svc) == 1
    outcomes = {n: o for n, o, _, _ in await receipts(svc, account)}
    assert sorted(outcomes) == ["era-1-copy.835", "era-1.835"]
    assert sorted(outcomes.values()) == ["accepted", "duplicate"]
    assert await announced(svc, [trace]) == {f"remit.received:{trace}": 1}
    # the second delivery under the first name was archived beside the first, not over it
    archived = sorted(p.name for p in (mailbox(live_stack) / account.archive_dir).iterdir())
    assert len(archived) == 3
    assert "era-1.835" in archived


async def test_a_crash_before_archiving_is_finished_on_the_next_poll_without_a_second_event(
    live_stack: Settings, connector: tuple[Service, ConnectorMetrics], account: Account
) -> None:
    svc, metrics = connector
    trace = uuid.uuid4().hex[:12]
    data = remit(trace)
    deliver(live_stack, account, "era.835", data)
    assert svc.pool is not None
    async with svc.pool.acquire() as conn:  # what a poll did before the process died
        taken = await intake.take(
            svc, metrics, conn, tenant=account.tenant, account=account.name, name="era.835",
            data=data, source=f"sftp:{account.name}/era.835",
        )  # fmt: skip
    assert taken.outcome == "accepted"
    assert await poller(account, metrics)(svc) == 1
    assert [(n, o) for n, o, _, r in await receipts(svc, account) if r] == [("era.835", "accepted")]
    assert await announced(svc, [trace]) == {f"remit.received:{trace}": 1}


async def test_truncated_and_non_x12_files_are_refused_with_the_reason_and_left_alone(
    live_stack: Settings, connector: tuple[Service, ConnectorMetrics], account: Account
) -> None:
    svc, metrics = connector
    whole = ack_999(_icn())
    deliver(live_stack, account, "cut.999", whole[: len(whole) // 2])
    deliver(live_stack, account, "photo.999", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    p = poller(account, metrics)
    assert await p(svc) == 0
    assert await p(svc) == 0  # refused files are not fetched again while unchanged
    got = {n: (o, reason) for n, o, reason, _ in await receipts(svc, account)}
    assert got["cut.999"][0] == "rejected"
    assert "truncated" in got["cut.999"][1]
    assert got["photo.999"][0] == "rejected"
    assert "not X12" in got["photo.999"][1]
    assert len(await receipts(svc, account)) == 2
    assert metrics.files.labels(account.name, "unknown", "rejected")._value.get() == 2
    # the clearinghouse finishes writing the file: now it is whole and taken in
    deliver(live_stack, account, "cut.999", whole)
    assert await p(svc) == 1
    assert ("cut.999", "accepted") in [(n, o) for n, o, _, _ in await receipts(svc, account)]
    assert (mailbox(live_stack) / account.inbound_dir / "photo.999").exists()


async def test_an_unreachable_server_is_retried_with_backoff(
    connector: tuple[Service, ConnectorMetrics], account: Account
) -> None:
    svc, metrics = connector
    dead = account.model_copy(update={"port": _free_port(), "connect_timeout_s": 2})
    p = poller(dead, metrics)
    assert await p(svc) == 0
    assert "unreachable" in p.error
    assert await p(svc) == 0  # inside the backoff: no new attempt
    assert metrics.failures.labels(dead.name, UNREACHABLE)._value.get() == 1
    assert metrics.account_state.labels(dead.name)._value.get() == 0


async def test_a_refused_login_names_the_account_and_user(account: Account, tmp_path: Path) -> None:
    key = tmp_path / "stranger"
    keygen(key)
    pw = tmp_path / "pw"
    pw.write_text("not-the-password\n")
    for wrong in ({"key_file": key}, {"key_file": None, "password_file": pw}):
        with pytest.raises(MailboxError) as err:
            async with Mailbox(account.model_copy(update=wrong)):
                pass
        assert err.value.kind == AUTH
        assert f"authentication refused for {account.username}" in str(err.value)


async def test_a_changed_host_key_stops_the_account_until_known_hosts_is_updated(
    live_stack: Settings,
    connector: tuple[Service, ConnectorMetrics],
    account: Account,
    tmp_path: Path,
) -> None:
    svc, metrics = connector
    other = tmp_path / "other_key"
    keygen(other)
    known = tmp_path / "known_hosts"
    kind, key = other.with_suffix(".pub").read_text().split()[:2]
    known.write_text(f"[127.0.0.1]:{live_stack.sftp_port} {kind} {key}\n")
    pinned = account.model_copy(update={"known_hosts": known})
    deliver(live_stack, pinned, "ack.999", ack_999(_icn()))
    p = poller(pinned, metrics)
    assert await p(svc) == 0
    assert "host key is not the one pinned" in p.error
    assert metrics.account_state.labels(pinned.name)._value.get() == -1
    assert await p(svc) == 0
    assert metrics.failures.labels(pinned.name, HOST_KEY)._value.get() == 1  # stopped: no retry
    # the operator checks the server's key and pins it: the account goes on
    known.write_text(account.known_hosts.read_text())
    os.utime(known, (1, 1))
    assert await p(svc) == 1


async def test_an_837_is_uploaded_whole_under_its_final_name_once(
    live_stack: Settings, connector: tuple[Service, ConnectorMetrics], account: Account
) -> None:
    svc, metrics = connector
    assert svc.pool is not None
    outbound = mailbox(live_stack) / account.outbound_dir
    data = claim_837(_icn())
    # a crash mid-upload left a temporary file behind: the next send writes it anew
    name = file_name(account, account.tenant, check(data), _now())
    leftover = outbound / (name + account.temp_suffix)
    leftover.write_bytes(data[:20])
    os.chown(leftover, *_owner(live_stack))
    sent, fresh = await send(svc.pool, metrics, account, account.tenant, data, now=_now())
    assert (sent, fresh) == (name, True)
    assert [p.name for p in outbound.iterdir()] == [name]
    assert (outbound / name).read_bytes() == data
    assert await send(svc.pool, metrics, account, account.tenant, data) == (name, False)
    row = await svc.pool.fetchrow(
        "SELECT state, attempts FROM outbound_files_v1 WHERE account = $1", account.name
    )
    assert (row["state"], row["attempts"]) == ("uploaded", 1)


async def test_an_upload_finds_its_file_there_already_or_another_file_under_its_name(
    live_stack: Settings, account: Account
) -> None:
    """A crash after the rename, before the upload was recorded: the next try finds the
    same bytes under the final name and is done (no temporary file left). Other bytes
    under that name are never replaced: the upload fails with the words."""
    outbound = mailbox(live_stack) / account.outbound_dir
    data = claim_837(_icn())
    name = file_name(account, account.tenant, check(data), _now())
    box = Mailbox(account)
    await box.open()
    try:
        assert await box.upload(name, data) == f"{account.outbound_dir}/{name}"
        assert await box.upload(name, data) == f"{account.outbound_dir}/{name}"  # again
        assert sorted(p.name for p in outbound.iterdir()) == [name]
        with pytest.raises(MailboxError, match="exists with other content"):
            await box.upload(name, claim_837(_icn()))
        assert sorted(p.name for p in outbound.iterdir()) == [name]
        assert (outbound / name).read_bytes() == data
    finally:
        box.close()


async def test_a_failed_upload_stays_pending_with_its_reason(
    connector: tuple[Service, ConnectorMetrics], account: Account
) -> None:
    svc, metrics = connector
    assert svc.pool is not None
    dead = account.model_copy(update={"port": _free_port(), "connect_timeout_s": 2})
    with pytest.raises(MailboxError):
        await send(svc.pool, metrics, dead, dead.tenant, claim_837(77), now=_now())
    row = await svc.pool.fetchrow(
        "SELECT state, last_error FROM outbound_files_v1 WHERE account = $1", dead.name
    )
    assert row["state"] == "pending"
    assert "unreachable" in row["last_error"]


def keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


def _icn() -> int:
    return int(uuid.uuid4().int % 10**8)


def _now() -> dt.datetime:
    return dt.datetime(2026, 12, 7, 10, 0, 0, tzinfo=dt.UTC)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_rcm_x12_import_takes_files_the_same_way_and_knows_the_mailboxs_files(
    live_stack: Settings,
    connector: tuple[Service, ConnectorMetrics],
    account: Account,
    tmp_path: Path,
) -> None:
    svc, metrics = connector
    trace, icn = uuid.uuid4().hex[:12], _icn()
    (tmp_path / "portal-era.835").write_bytes(remit(trace))
    (tmp_path / "status.277").write_bytes(status_277(icn))
    (tmp_path / "statement.pdf").write_bytes(b"%PDF-1.7\n")
    args = ["x12", "import", str(tmp_path), "--tenant", account.tenant]
    first = await asyncio.to_thread(runner.invoke, cli.app, args)
    assert first.exit_code == 2, first.output  # a file was refused
    lines = sorted(first.output.splitlines())
    assert lines[0].endswith("portal-era.835: accepted 835")
    assert "statement.pdf: rejected: not X12" in lines[1]
    assert lines[2].endswith("status.277: accepted 277")
    assert await announced(svc, [trace, sha256(status_277(icn))]) == {}  # relayed to Kafka
    again = await asyncio.to_thread(
        runner.invoke, cli.app, [*args[:2], str(tmp_path / "status.277"), *args[3:]]
    )
    assert again.exit_code == 0
    assert "duplicate 277: the same content came before as import:status.277" in again.output
    # the same ERA arriving later in the tenant's mailbox is a duplicate too
    deliver(live_stack, account, "era-from-mailbox.835", remit(trace))
    assert await poller(account, metrics)(svc) == 1
    assert [(n, o) for n, o, _, _ in await receipts(svc, account)] == [
        ("era-from-mailbox.835", "duplicate")
    ]


async def test_files_keep_coming_in_across_an_sftp_server_restart(
    live_stack: Settings, connector: tuple[Service, ConnectorMetrics], account: Account
) -> None:
    svc, metrics = connector
    p = poller(account, metrics)
    deliver(live_stack, account, "before.999", ack_999(_icn()))
    assert await p(svc) == 1
    await asyncio.to_thread(sftp_down, live_stack)
    deliver(live_stack, account, "while-down.999", ack_999(_icn()))
    try:
        assert await p(svc) == 0  # the server is gone: counted, retried after a backoff
        assert "unreachable" in p.error
    finally:
        await asyncio.to_thread(sftp_up, live_stack)
    for _ in range(50):  # the backoff is 0.05 s doubling
        if await p(svc):
            break
        await asyncio.sleep(0.1)
    outcomes = {n: o for n, o, _, _ in await receipts(svc, account)}
    assert outcomes == {"before.999": "accepted", "while-down.999": "accepted"}
    assert metrics.account_state.labels(account.name)._value.get() == 1


async def test_the_connector_sends_a_pending_upload_once_the_mailbox_is_back(
    live_stack: Settings, connector: tuple[Service, ConnectorMetrics], account: Account
) -> None:
    svc, metrics = connector
    assert svc.pool is not None
    down = account.model_copy(update={"port": _free_port(), "connect_timeout_s": 2})
    data = claim_837(_icn())
    with pytest.raises(MailboxError):
        await send(svc.pool, metrics, down, down.tenant, data, now=_now(), retry=(0.05, 1))
    sender = Sender(ConnectorSettings(retry_min_s=0.05), down, metrics)
    await asyncio.sleep(0.1)
    assert await sender(svc) == 0  # still down: waits again, with the reason
    row = await svc.pool.fetchrow(
        "SELECT state, attempts, last_error FROM outbound_files_v1 WHERE account = $1", down.name
    )
    assert (row["state"], row["attempts"]) == ("pending", 2)
    assert "unreachable" in row["last_error"]
    # the mailbox answers again (same account name, the real port)
    up = Sender(ConnectorSettings(), down.model_copy(update={"port": account.port}), metrics)
    await asyncio.sleep(0.3)
    assert await up(svc) == 1
    name = file_name(account, account.tenant, check(data), _now())
    assert (mailbox(live_stack) / account.outbound_dir / name).read_bytes() == data
    assert await up(svc) == 0  # sent once


async def test_a_write_the_server_refuses_leaves_the_upload_pending_with_its_words(
    live_stack: Settings, connector: tuple[Service, ConnectorMetrics], account: Account
) -> None:
    """As a full disk on the clearinghouse's side does: the write fails, nothing is left
    under the final name, and the reason is kept for the next try."""
    svc, metrics = connector
    assert svc.pool is not None
    outbound = mailbox(live_stack) / account.outbound_dir
    outbound.chmod(0o550)  # the account may list, not write
    try:
        with pytest.raises(MailboxError) as err:
            await send(svc.pool, metrics, account, account.tenant, claim_837(_icn()), now=_now())
    finally:
        outbound.chmod(0o750)
    assert "Permission denied" in str(err.value)
    assert list(outbound.iterdir()) == []
    row = await svc.pool.fetchrow(
        "SELECT state, last_error FROM outbound_files_v1 WHERE account = $1", account.name
    )
    assert row["state"] == "pending"
    assert "writing" in row["last_error"]
