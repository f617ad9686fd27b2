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
from services.connector.mailbox import HOST_KEY, AccountTimer, MailboxError

log = logging.getLogger("rcm.connector")


#: Inbound files taken in a pass at most (a pass holds their bytes).
PER_PASS = 50


class Poller(AccountTimer):
    def started(self) -> None:
        self.retry_at = 0.0
        self.delay = self.cfg.retry_min_s
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
        """Takes in the new inbound files, up to :data:`PER_PASS` (the timer runs again
        at once while it finds work); returns how many were taken (not refused). The
        pass's files are kept and announced in one transaction, then moved remotely,
        then their moves recorded together: a crash between any two steps leaves files
        the next pass finds again and knows by their receipts."""
        assert svc.pool is not None
        a = self.account
        box = await self.link.box()
        remotes = await box.inbound()
        if not remotes:
            return 0
        async with svc.pool.acquire() as conn:
            refused = await repository.rejected_unchanged(conn, a.name, [r.name for r in remotes])
            todo = [r for r in remotes if (r.name, r.size, r.mtime) not in refused][:PER_PASS]
            files = [(r, await box.fetch(r.name, r.size)) for r in todo]
            async with conn.transaction():
                taken = [
                    await intake.take(
                        svc,
                        self.metrics,
                        conn,
                        tenant=a.tenant,
                        account=a.name,
                        name=r.name,
                        data=data,
                        source=f"sftp:{a.name}/{r.name}",
                        mtime=r.mtime,
                        shared=bool(a.send_for),
                    )
                    for r, data in files
                ]
            moved = []
            for (r, _), t in zip(files, taken, strict=True):
                if t.outcome == "rejected":
                    log.warning("account %s: %s refused: %s", a.name, r.name, t.reason)
                    continue
                moved.append((r.name, t.sha256, await box.done_with(r.name, t.sha256)))
            if moved:
                async with conn.transaction():
                    await repository.remote_done(conn, a.name, moved)
        return len(moved)

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
