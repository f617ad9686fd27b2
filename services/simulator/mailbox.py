"""The clearinghouse's back end on the SFTP mailbox: a timer of the simulator.

It reads the 837 files the connector uploaded into the account's ``outbound`` folder and
writes its answers (999, 277CA, 835) into ``inbound``. It works the server's folders on
disk, as a clearinghouse reads and writes its own side of the mailboxes it hosts; only
the practice's side (the connector) goes through SFTP.

The order makes a crash harmless. A file is taken in one transaction that stores its
interchange, queues its claims and records its answers (``mailbox_in`` by name and
content, ``mailbox_out``); only then is it moved to the clearinghouse's archive, so a
file found again is recognised and only archived. An answer is written under a
temporary name (``.part``, which the connector leaves alone), renamed to its final name,
and marked written in the transaction that claimed it: a crash before the mark writes
the same name with the same bytes again, which the connector takes once (its receipts,
by name and content).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import orjson

from runtime import errors
from runtime.service import Service
from runtime.timers import TimerFn
from runtime.x12 import X12Error
from services.simulator import answers, repository
from services.simulator import repository_mailbox as repo
from services.simulator.config import SimulatorSettings

log = logging.getLogger("rcm.simulator")

#: The connector's temporary suffix for a file still being written (either way).
TEMP_SUFFIX = ".part"


def archive_dir(root: Path) -> Path:
    """Where the clearinghouse keeps the 837s it answered: beside the account's folders,
    outside what the account sees."""
    return root.parent / "clearinghouse" / "archive"


def _listing(folder: Path) -> list[tuple[str, bytes]]:
    """Each whole file of the folder (name, bytes), oldest first."""
    try:
        entries = [e for e in os.scandir(folder) if e.is_file(follow_symlinks=False)]
    except FileNotFoundError:
        return []
    entries = [e for e in entries if not e.name.startswith(".")]
    entries = [e for e in entries if not e.name.endswith(TEMP_SUFFIX)]
    entries.sort(key=lambda e: (e.stat().st_mtime, e.name))
    out = []
    for e in entries:
        try:
            out.append((e.name, Path(e.path).read_bytes()))
        except FileNotFoundError:  # another instance archived it just now
            continue
    return out


def _archive(path: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):  # another instance archived it already
        os.replace(path, target)


def _write_all(folder: Path, files: list[tuple[str, str]]) -> None:
    """Each file under its temporary name, flushed to disk, then renamed."""
    for name, body in files:
        temp = folder / (name + TEMP_SUFFIX)
        with open(temp, "wb") as f:
            f.write(body.encode("ascii"))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, folder / name)


@dataclass(eq=False)
class Clearinghouse:
    """One pass over the mailbox per call (register it with ``Service.every``)."""

    cfg: SimulatorSettings
    root: Path
    #: the payer cycle, woken when the claims of a file taken in fall due
    payers: TimerFn | None = None

    async def __call__(self, svc: Service) -> int:
        assert svc.pool is not None
        return await self.read(svc) + await self.write(svc)

    async def read(self, svc: Service) -> int:
        """Takes every new 837 of the outbound folder; returns how many were answered."""
        assert svc.pool is not None
        outbound = self.root / "outbound"
        found = await asyncio.to_thread(_listing, outbound)
        if not found:
            return 0
        digests = [hashlib.sha256(data).hexdigest() for _, data in found]
        done = 0
        async with svc.pool.acquire() as conn:
            seen = await repo.taken(
                conn, [(n, d) for (n, _), d in zip(found, digests, strict=True)]
            )
            for (name, data), digest in zip(found, digests, strict=True):
                if (name, digest) not in seen:
                    done += await self._take(svc, conn, name, digest, data)
                target = archive_dir(self.root) / f"{digest[:16]}-{name}"
                await asyncio.to_thread(_archive, outbound / name, target)
        if done and self.payers is not None:
            svc.wake(self.payers, after=self.cfg.delay_s)
        return done

    async def _take(
        self, svc: Service, conn: asyncpg.Connection, name: str, digest: str, data: bytes
    ) -> int:
        async with conn.transaction():
            if not await repo.take(conn, name, digest):
                return 0  # another instance took it
            try:
                outcome, received_id, files = await answers.receive_837(
                    conn, svc.settings, self.cfg, name=name, digest=digest,
                    text=data.decode("ascii"),
                )  # fmt: skip
            except (X12Error, UnicodeDecodeError) as exc:
                # nothing to answer it with: kept as taken, with the reason, and archived
                log.warning("837 file %s unreadable: %s", name, errors.reason(exc))
                outcome, received_id, files = "unreadable", None, []
            await repo.queue_files(conn, files)
            await repo.taken_as(conn, name, digest, outcome, received_id)
        if outcome != "answered":
            log.warning("837 file %s not answered: %s", name, outcome)
        return 1 if files else 0

    async def write(self, svc: Service) -> int:
        """Writes the answer files whose time has come into the inbound folder."""
        assert svc.pool is not None
        async with svc.pool.acquire() as conn, conn.transaction():
            rows = await repo.due_files(conn)
            if not rows:
                return 0
            files = [(r["name"], r["body"]) for r in rows]
            await asyncio.to_thread(_write_all, self.root / "inbound", files)
            await repo.written(conn, [r["id"] for r in rows], dt.datetime.now(dt.UTC))
            states = [(p, n, st) for r in rows for p, n, st in orjson.loads(r["states"])]
            await repository.set_states(conn, states)
        return len(rows)
