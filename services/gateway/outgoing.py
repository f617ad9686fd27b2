"""How a command leaves the gateway, whoever asked (the JSON API, a person's page, the
command line): the event to Kafka first (``Gateway.send`` returns once it is acknowledged),
then its audit row and the request's own writes (an idempotency answer) in one
transaction. A failure before the acknowledgement records nothing; the event's id
(``event_id``, from the request's natural key) makes a retry a duplicate the consumer
drops."""

from __future__ import annotations

from collections.abc import Sequence

from schemas.events import Event
from services.gateway.core import AuditEntry, Gateway, _Write


async def send_audited(
    gw: Gateway,
    event: Event,
    entry: AuditEntry,
    *,
    correlation_id: str,
    ce_id: str,
    extra: Sequence[_Write] = (),
) -> None:
    """Sends ``event`` as ``entry.actor`` of ``entry.tenant``, then writes ``entry``."""
    await gw.send(
        event,
        tenant=entry.tenant,
        correlation_id=correlation_id,
        ce_id=ce_id,
        actor=entry.actor,
    )
    await gw.commit([Gateway.audit_write(entry), *extra])
