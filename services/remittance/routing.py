"""Whose 835 is it? A file from a mailbox several tenants share (``remit.received.shared``)
carries the account's tenant, which says nothing: the billing company's one account
takes answers for every practice it bills for. An 835 pays one payee, and a payee is one
practice, so the file goes whole to the tenant its claims (CLP01) were submitted for,
as this room indexed them from claim.submitted.

- Claims of one tenant (others not known yet wait in that tenant's unmatched queue, as
  any CLP): the file is posted for that tenant.
- Claims of several tenants: dead-lettered with the reason (never posted to one of them).
- No claim known: the 835 is put back (:class:`NotIndexedYet`, a
  :class:`runtime.context.NotYet`: the runtime reads it again after a pause while the
  room reads claim.submitted on) while claim.submitted has messages this room has not
  applied, or while the file is younger than :data:`UNKNOWN_WAIT_S`: the clearinghouse
  can answer before claims has caught up and published the claim.submitted (claims
  lagging in a burst, or down for a while). After both, dead-lettered with the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from runtime import positions
from runtime.context import Context, NotYet, Reject
from schemas.events import ClaimSubmitted, RemitReceived
from services.remittance import repository as repo

#: How long a shared mailbox's 835 naming no known claim waits for claims to publish them.
UNKNOWN_WAIT_S = 3600.0


class NotIndexedYet(NotYet):
    """The 835's claims are not indexed yet, and claim.submitted is not read through: the
    835's records are put back while this room reads claim.submitted on."""


async def routed(ctx: Context, ev: RemitReceived, pcns: Collection[str]) -> Context:
    """The context to post a shared mailbox's 835 in: the tenant's whose claims its CLP01s
    (``pcns``) name. (An unreadable file stays the account tenant's, with the reason.)"""
    tenants = await repo.tenants_of(ctx.conn, sorted(pcns))
    if len(tenants) > 1:
        raise Reject(
            "several-tenants",
            f"835 {ev.trace_number} from a shared mailbox pays claims of {len(tenants)}"
            " tenants; an 835 pays one practice",
        )
    if not tenants:
        age = (dt.datetime.now(dt.UTC) - ctx.meta.time).total_seconds()
        ends = await ctx.service.topic_ends(ClaimSubmitted.TOPIC)
        if age < UNKNOWN_WAIT_S or not await positions.read_through(
            ctx.conn, ClaimSubmitted.TOPIC, ends
        ):
            raise NotIndexedYet(f"835 {ev.trace_number}: its claims are not indexed yet")
        raise Reject(
            "unknown-claims",
            f"835 {ev.trace_number} from a shared mailbox names {len(pcns)} claims no tenant"
            f" submitted (waited {UNKNOWN_WAIT_S:.0f} s for them)",
        )
    (tenant,) = tenants
    if tenant == ctx.meta.tenant:
        return ctx
    return ctx.service.context(
        ctx.conn, tenant=tenant, correlation_id=ctx.meta.correlation_id, cause=ctx.meta.id,
        traceparent=ctx.meta.traceparent,
    )  # fmt: skip
