"""One SFTP mailbox (asyncssh): connect with the account's pinned host key and secrets,
list and fetch inbound files, archive or delete them, upload under a temporary name
and rename. Every failure becomes a MailboxError with a kind and words an operator
can act on (never a secret, never file content)."""

from __future__ import annotations

import asyncio
import hashlib
import posixpath
import warnings
from dataclasses import dataclass
from types import TracebackType

with warnings.catch_warnings():  # asyncssh still names DSA, which cryptography deprecates
    warnings.simplefilter("ignore")
    import asyncssh

from services.connector.config import Account, ConnectorSettings
from services.connector.metrics import ConnectorMetrics

#: A MailboxError's kind; ``host-key`` stops the account until its known_hosts changes.
UNREACHABLE = "unreachable"
AUTH = "auth-refused"
HOST_KEY = "host-key"
REMOTE = "remote"


#: AES-GCM first (one AEAD call a packet, AES-NI), then asyncssh's usual order: the
#: server picks the first of ours it also offers.
CIPHERS = [
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes256-ctr",
    "aes192-ctr",
    "aes128-ctr",
]


class MailboxError(RuntimeError):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Remote:
    name: str
    size: int
    mtime: int


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Mailbox:
    """``async with Mailbox(account) as box:`` one SSH connection and its SFTP channel."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None

    async def __aenter__(self) -> Mailbox:
        await self.open()
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def open(self) -> None:
        a = self.account
        where = f"account {a.name} ({a.host}:{a.port})"
        if not a.known_hosts.is_file():
            raise MailboxError(HOST_KEY, f"{where}: no known_hosts file at {a.known_hosts}")
        password = None
        if a.password_file is not None:
            password = a.password_file.read_text(encoding="utf-8").strip()
        keys = [str(a.key_file)] if a.key_file is not None else []
        try:
            self._conn = await asyncssh.connect(
                a.host,
                a.port,
                username=a.username,
                known_hosts=str(a.known_hosts),
                client_keys=keys,
                password=password,
                agent_path=None,
                config=[],
                connect_timeout=a.connect_timeout_s,
                login_timeout=a.connect_timeout_s,
                encryption_algs=CIPHERS,
            )
            self._sftp = await self._conn.start_sftp_client()
        except asyncssh.HostKeyNotVerifiable:
            raise MailboxError(
                HOST_KEY,
                f"{where}: the server's host key is not the one pinned in {a.known_hosts};"
                " the account is stopped until an operator checks the key and updates the file",
            ) from None
        except asyncssh.PermissionDenied:
            raise MailboxError(AUTH, f"{where}: authentication refused for {a.username}") from None
        except (OSError, TimeoutError, asyncssh.Error) as exc:
            raise MailboxError(
                UNREACHABLE, f"{where}: unreachable ({type(exc).__name__})"
            ) from None

    @property
    def closed(self) -> bool:
        """The server ended the connection (a restart, an idle timeout): open anew."""
        return self._conn is None or self._conn.is_closed()

    def close(self) -> None:
        if self._sftp is not None:
            self._sftp.exit()
        if self._conn is not None:
            self._conn.close()
        self._sftp = self._conn = None

    @property
    def sftp(self) -> asyncssh.SFTPClient:
        assert self._sftp is not None, "mailbox not open"
        return self._sftp

    async def _call(self, what: str, coro: object) -> object:
        try:
            return await coro  # type: ignore[misc]
        except (asyncssh.SFTPConnectionLost, asyncssh.SFTPNoConnection) as exc:
            raise MailboxError(UNREACHABLE, self._lost(what, exc)) from None
        except asyncssh.SFTPError as exc:
            raise MailboxError(
                REMOTE, f"account {self.account.name}: {what}: {exc.reason}"
            ) from None
        except (OSError, asyncssh.Error) as exc:
            raise MailboxError(UNREACHABLE, self._lost(what, exc)) from None

    def _lost(self, what: str, exc: BaseException) -> str:
        return f"account {self.account.name}: {what}: unreachable ({type(exc).__name__})"

    # --- inbound ---------------------------------------------------------------

    async def inbound(self) -> list[Remote]:
        """The inbound folder's regular files, oldest first; names still being written
        (the temporary suffix) and dot files are left alone."""
        a = self.account
        names = await self._call(f"listing {a.inbound_dir}", self.sftp.readdir(a.inbound_dir))
        out = []
        for n in names:  # type: ignore[attr-defined]
            name = n.filename if isinstance(n.filename, str) else n.filename.decode()
            if name.startswith(".") or name.endswith(a.temp_suffix):
                continue
            if n.attrs.type != asyncssh.FILEXFER_TYPE_REGULAR:
                continue
            out.append(Remote(name, int(n.attrs.size or 0), int(n.attrs.mtime or 0)))
        return sorted(out, key=lambda r: (r.mtime, r.name))

    async def fetch(self, name: str, size: int | None = None) -> bytes:
        """The file's bytes; ``size`` (the listing's) saves asking the server for it."""
        return await self._read(posixpath.join(self.account.inbound_dir, name), size)

    async def done_with(self, name: str, digest: str) -> str:
        """Archives (or deletes) an inbound file once its receipt is committed; returns
        where it went. Already gone (a crash after this step): nothing to do."""
        a = self.account
        path = posixpath.join(a.inbound_dir, name)

        async def move() -> str:
            if a.after_download == "delete":
                await self.sftp.remove(path)
                return "deleted"
            target = posixpath.join(a.archive_dir, name)
            try:  # SFTP's plain rename never replaces a file already there
                await self.sftp.rename(path, target)
            except asyncssh.SFTPFailure:
                if not await self.sftp.exists(target):
                    raise
                target = f"{target}.{digest[:12]}"  # the same name delivered twice
                await self.sftp.posix_rename(path, target)
            return target

        async def gone_or_move() -> str:
            try:
                return await move()
            except asyncssh.SFTPNoSuchFile:
                if await self.sftp.exists(path):
                    raise  # the archive folder is missing: the operator's to fix
                return "gone"

        return await self._call(f"archiving {path}", gone_or_move())  # type: ignore[return-value]

    # --- outbound --------------------------------------------------------------

    async def upload(self, name: str, data: bytes) -> str:
        """Writes ``data`` as outbound ``name + temp_suffix``, then renames it to ``name``:
        the clearinghouse never picks up half a file. Run again after a crash at any
        step it finishes the job: a whole file of the same content under the final name
        is done, a leftover temporary file is written anew."""
        a = self.account
        final = posixpath.join(a.outbound_dir, name)
        temp = final + a.temp_suffix

        async def write() -> None:
            async with self.sftp.open(temp, "wb") as f:
                await f.write(data)

        async def rename() -> bool:
            """False when a file is there under the final name already."""
            try:  # SFTP's plain rename never replaces a file already there
                await self.sftp.rename(temp, final)
            except asyncssh.SFTPFailure:
                if not await self.sftp.exists(final):
                    raise
                return False
            return True

        await self._call(f"writing {temp}", write())
        if await self._call(f"renaming {temp}", rename()):
            return final
        theirs = await self._read(final)  # sent before (a crash before it was recorded)
        await self._call(f"removing {temp}", self.sftp.remove(temp))
        if sha256(theirs) == sha256(data):
            return final
        raise MailboxError(REMOTE, f"account {a.name}: {final} exists with other content")

    async def _read(self, path: str, size: int | None = None) -> bytes:
        async def read() -> bytes:
            async with self.sftp.open(path, "rb") as f:
                if size is None:
                    data = await f.read()
                else:  # one byte more than listed tells a file that grew since
                    data = await f.read(size + 1)
                    if len(data) > size:
                        data += await f.read()
            return data if isinstance(data, bytes) else data.encode()

        return await self._call(f"reading {path}", read())  # type: ignore[return-value]


class Link:
    """An account's one SSH connection, kept open between passes and shared by its
    poller and its sender (a connection costs both ends a key exchange, and the server a
    process). Opened on first use, and again after the server closed it; ``drop`` after
    any MailboxError, so the next pass starts on a fresh connection."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self._box: Mailbox | None = None
        self._opening = asyncio.Lock()

    async def box(self) -> Mailbox:
        async with self._opening:
            if self._box is not None and self._box.closed:
                self.drop()
            if self._box is None:
                box = Mailbox(self.account)
                await box.open()
                self._box = box
            return self._box

    def drop(self) -> None:
        if self._box is not None:
            self._box.close()
            self._box = None


class AccountTimer:
    """A connector timer that works one account's mailbox (the Poller, the Sender):
    its settings, the account, the counters, and the account's kept connection."""

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
        self.started()

    def started(self) -> None:
        """A timer's own state, set up once (none by default)."""
