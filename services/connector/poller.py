"""One account's inbound poll, a timer of the connector: list the inbound folder, take
each file in (services.connector.intake), then archive or delete it remotely. The
order makes a crash harmless: a file is only removed remotely after its receipt is
committed, and a file fetched again after a crash finds its receipt (same name, same
content) and is only archived. A failing mailbox is retried with backoff; a host key
that does not match the pinned one stops the account until known_hosts changes."""

from __future__ import annotations

import logging
import time

from runtime.service import Service
from services.connector import intake, repository
from services.connector.config import Account, ConnectorSettings
from services.connector.mailbox import HOST_KEY, Link, MailboxError
from services.connector.metrics import ConnectorMetrics

log = logging.getLogger("rcm.connector")


class Poller:
    def __init__(
        self,
        cfg: ConnectorSettings,
        account: Account,
        metrics: ConnectorMetrics,
        link: Link | None = None,
    ):
        self.cfg = cfg
        self.account = account
        self.metrics = metrics
        self.link = link or Link(account)
        self.retry_at = 0.0
        self.delay = cfg.retry_min_s
        self.error = ""  # the last failure, for status
        self.stopped_at_key: float | None = None  # known_hosts mtime when stopped

    async def __call__(self, svc: Service) -> int:
        if self.stopped_at_key is not None:
            if self._key_mtime() == self.stopped_at_key:
                return 0
            self.stopped_at_key = None  # the operator changed known_hosts: try again
        if time.monotonic() < self.retry_at:
            return 0
        try:
            done = await self.poll(svc)
        except MailboxError as exc:
            self._failed(exc)
            return 0
        self.delay, self.error = self.cfg.retry_min_s, ""
        self.metrics.account_state.labels(self.account.name).set(1)
        return done

    async def poll(self, svc: Service) -> int:
        """Takes in every new inbound file; returns how many were taken (not refused)."""
        assert svc.pool is not None
        a, done = self.account, 0
        box = await self.link.box()
        for remote in await box.inbound():
            async with svc.pool.acquire() as conn:
                if await repository.rejected_unchanged(
                    conn, a.name, remote.name, remote.size, remote.mtime
                ):
                    continue
                data = await box.fetch(remote.name, remote.size)
                taken = await intake.take(
                    svc,
                    self.metrics,
                    conn,
                    tenant=a.tenant,
                    account=a.name,
                    name=remote.name,
                    data=data,
                    source=f"sftp:{a.name}/{remote.name}",
                    mtime=remote.mtime,
                    shared=bool(a.send_for),
                )
                if taken.outcome == "rejected":
                    log.warning("account %s: %s refused: %s", a.name, remote.name, taken.reason)
                    continue
                where = await box.done_with(remote.name, taken.sha256)
                await repository.remote_done(conn, a.name, remote.name, taken.sha256, where)
            done += 1
        return done

    def _failed(self, exc: MailboxError) -> None:
        self.link.drop()
        self.metrics.failures.labels(self.account.name, exc.kind).inc()
        if exc.kind == HOST_KEY:
            self.stopped_at_key = self._key_mtime()
            self.metrics.account_state.labels(self.account.name).set(-1)
            if self.error != str(exc):
                log.error("%s", exc)
        else:
            self.retry_at = time.monotonic() + self.delay
            self.delay = min(self.delay * 2, self.cfg.retry_max_s)
            self.metrics.account_state.labels(self.account.name).set(0)
            log.warning("%s; next try in %.1f s", exc, self.delay)
        self.error = str(exc)

    def _key_mtime(self) -> float:
        try:
            return self.account.known_hosts.stat().st_mtime
        except OSError:
            return -1.0
