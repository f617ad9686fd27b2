"""The one way a file comes in, whatever brought it (an SFTP poll, ``rcm x12 import``,
the gateway's upload): check its envelope, keep it and announce it in one transaction,
once per content and tenant. A second delivery of the same bytes (again, or under
another name) is a receipt marked duplicate and announces nothing."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from runtime.service import Service
from schemas.events import RemitReceived
from schemas.events_transport import X12FileReceived
from services.connector import envelope, repository
from services.connector.envelope import Envelope, EnvelopeError
from services.connector.mailbox import sha256
from services.connector.metrics import ConnectorMetrics


@dataclass(frozen=True)
class Taken:
    outcome: str  # accepted, duplicate, rejected
    reason: str
    kind: str
    sha256: str


async def take(
    svc: Service,
    metrics: ConnectorMetrics,
    conn: asyncpg.Connection,
    *,
    tenant: str,
    account: str,
    name: str,
    data: bytes,
    source: str,
    mtime: int = 0,
    shared: bool = False,
) -> Taken:
    """Takes one file in. From a mailbox (``account`` set), the same name and bytes again
    (a crash after the commit, before the remote file was archived) returns the first
    outcome; an import of bytes taken before is a duplicate. ``shared``: the account
    sends for several tenants, so the file is announced as shared and its owner (claims,
    remittance) routes it by what it names."""
    digest = sha256(data)
    prior = await repository.receipt(conn, account, name, digest) if account else None
    if prior is not None:
        return Taken(prior["outcome"], prior["reason"], prior["kind"] or "", digest)
    row: dict[str, object] = {"tenant": tenant, "account": account, "name": name}
    row |= {"sha256": digest, "size_bytes": len(data), "mtime": mtime}
    try:
        env = envelope.check(data)
        if env.kind not in envelope.INBOUND_KINDS:
            raise EnvelopeError(f"a {env.kind} is not a file we take in (999, 277CA, 277, 835)")
    except EnvelopeError as exc:
        await repository.add_receipt(conn, **row, outcome="rejected", reason=str(exc))
        metrics.files.labels(account, "unknown", "rejected").inc()
        return Taken("rejected", str(exc), "", digest)
    async with conn.transaction():
        file_id = await repository.add_file(conn, tenant, digest, env, source, name, data)
        if file_id is None:
            file_id, first = await repository.first(conn, tenant, digest)
            taken = Taken("duplicate", f"the same content came before as {first}", env.kind, digest)
        else:
            await _announce(svc, conn, tenant, env, digest, source, data, shared)
            taken = Taken("accepted", "", env.kind, digest)
        row |= {"file_id": file_id, "kind": env.kind, "control_number": env.control_number}
        await repository.add_receipt(conn, **row, outcome=taken.outcome, reason=taken.reason)
    svc.outbox.wake.set()
    metrics.files.labels(account, env.kind, taken.outcome).inc()
    return taken


async def _announce(
    svc: Service,
    conn: asyncpg.Connection,
    tenant: str,
    env: Envelope,
    digest: str,
    source: str,
    data: bytes,
    shared: bool,
) -> None:
    ctx = svc.context(conn, tenant=tenant, correlation_id=f"file:{digest[:16]}")
    text = data.decode("ascii")
    if env.kind == "835":
        await ctx.emit(
            RemitReceived(
                trace_number=env.trace_number or env.control_number,
                payer_id=env.payer_id,
                source=source,
                x12=text,
                shared=shared,
            )
        )
        return
    await ctx.emit(
        X12FileReceived(
            sha256=digest,
            kind=env.kind,
            interchange_control_number=env.control_number,
            sender_id=env.sender,
            receiver_id=env.receiver,
            transactions=env.transactions,
            source=source,
            x12=text,
            shared=shared,
        )
    )
