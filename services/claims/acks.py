"""The acknowledgement reader: the clearinghouse's 999 and 277CA files, as the connector
took them from the mailbox (x12.file-received), become claim.acknowledged per claim,
which the saga (handlers.on_acknowledged) and reporting read as before.

A 999 names our 837 by its functional group (AK102 = GS06), a 277CA by the interchange
(2200B TRN02 = ISA13); each claim of a rejected set gets the 999's errors in words (so
it lands in the rejection queue with them), each claim of a 277CA its own verdict. A
file naming an interchange this tenant never sent is dead-lettered with the reason and
counted (``rcm_claims_ack_files_total{kind,outcome="unknown-interchange"}``); one that
cannot be read, likewise (``unreadable``). 277 (unsolicited status) files are not read
here yet.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from runtime import errors
from runtime.context import Context, Reject
from runtime.x12 import X12Error
from schemas.common import HoldReason
from schemas.events import AckKind, ClaimAcknowledged, Event
from schemas.events_transport import X12FileReceived
from services.claims import repository_files, sent
from services.claims.config import ClaimsSettings
from services.claims.x12_acks import GroupAnswer, claims_by_set, read_277ca, read_999


class AckMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.files = Counter(
            "rcm_claims_ack_files",
            "999 and 277CA files read, by kind and outcome (read, unknown-interchange, unreadable)",
            ["kind", "outcome"],
            registry=registry,
        )


async def on_file_received(
    ctx: Context, ev: X12FileReceived, *, cfg: ClaimsSettings, metrics: AckMetrics
) -> None:
    if ev.kind not in ("999", "277CA"):
        return  # a 277 answers a 276: not read here yet
    try:
        acks = await (_from_999(ctx, ev) if ev.kind == "999" else _from_277ca(ctx, ev))
    except X12Error as exc:
        metrics.files.labels(ev.kind, "unreadable").inc()
        raise Reject("unreadable", f"{ev.kind} {_file(ev)}: {errors.reason(exc)}") from None
    except Reject:
        metrics.files.labels(ev.kind, "unknown-interchange").inc()
        raise
    # the answer proves the upload when claims has not applied its report yet
    await sent.submit_answered(ctx, cfg, [a.claim_id for _, a in acks], None)
    traces = {}
    for row in await repository_files.traces(ctx.conn, [a.claim_id for _, a in acks]):
        traces[row["claim_id"]] = row["traceparent"]
    # a shared mailbox's file goes to the tenants whose interchanges it answers; each
    # tenant's acknowledgements are written in one statement
    to = {ctx.meta.tenant: ctx}
    out: dict[str, list[tuple[Event, str | None, str | None]]] = {}
    for tenant, ack in acks:
        if tenant not in to:
            to[tenant] = ctx.service.context(
                ctx.conn, tenant=tenant, correlation_id=ack.claim_id, cause=ctx.meta.id
            )
        out.setdefault(tenant, []).append((ack, ack.claim_id, traces.get(ack.claim_id)))
    for tenant, events in out.items():
        await to[tenant].emit_many(events)
    metrics.files.labels(ev.kind, "read").inc()


def _file(ev: X12FileReceived) -> str:
    return f"file {ev.sha256[:12]} ({ev.source}, ISA13 {ev.interchange_control_number})"


def _whose(ctx: Context, ev: X12FileReceived) -> str | None:
    """Whose interchanges the file may answer: the tenant's, or (a shared mailbox's
    file) any tenant's; the answer goes to the interchange's tenant."""
    return None if ev.shared else ctx.meta.tenant


def _nobody(ctx: Context, ev: X12FileReceived) -> str:
    return "no tenant" if ev.shared else "this tenant never"


Routed = list[tuple[str, ClaimAcknowledged]]  # (tenant, acknowledgement)


async def _from_999(ctx: Context, ev: X12FileReceived) -> Routed:
    out: Routed = []
    for group in read_999(ev.x12):
        inter = None
        if group.control_number.isdigit():
            gcn = int(group.control_number)
            inter = await repository_files.interchange_by_group(ctx.conn, _whose(ctx, ev), gcn)
        if inter is None:
            raise Reject(
                "unknown-interchange",
                f"a 999 answers group {group.control_number}, which {_nobody(ctx, ev)} sent:"
                f" {_file(ev)}",
            )
        ids = await _claim_ids(ctx, inter["interchange_control_number"])
        for st02, pcns in claims_by_set(inter["x12"]).items():
            accepted, why = _verdict(group, st02)
            reasons = [] if accepted else [HoldReason(code="999-R", message=why, fix=FIX_837)]
            for pcn in pcns:
                out.append(
                    (
                        inter["tenant"],
                        ClaimAcknowledged(
                            claim_id=ids.get(pcn, pcn),
                            patient_control_number=pcn,
                            kind=AckKind.ack_999,
                            accepted=accepted,
                            errors=reasons,
                            x12=ev.x12,
                        ),
                    )
                )
    return out


FIX_837 = "correct the 837 and resubmit"


def _verdict(group: GroupAnswer, st02: str) -> tuple[bool, str]:
    """A set's verdict in the group's answer (its own AK2, else the group's AK9)."""
    answer = next((s for s in group.sets if s.control_number == st02), None)
    if answer is not None:
        words = "; ".join(answer.errors)
        return answer.accepted, f"999 rejected transaction set {st02}: {words}"
    return group.accepted, "999 rejected the functional group: " + "; ".join(group.errors)


async def _from_277ca(ctx: Context, ev: X12FileReceived) -> Routed:
    batch, answers = read_277ca(ev.x12)
    inter = None
    if batch.isdigit():
        inter = await repository_files.interchange_of(ctx.conn, _whose(ctx, ev), int(batch))
    if inter is None:
        raise Reject(
            "unknown-interchange",
            f"a 277CA answers interchange {batch or '(none named)'}, which {_nobody(ctx, ev)}"
            f" sent: {_file(ev)}",
        )
    ids = await _claim_ids(ctx, inter["interchange_control_number"])
    return [
        (
            inter["tenant"],
            ClaimAcknowledged(
                claim_id=ids.get(a.patient_control_number, a.patient_control_number),
                patient_control_number=a.patient_control_number,
                kind=AckKind.ack_277ca,
                accepted=a.accepted,
                errors=[
                    HoldReason(
                        code=f"277CA:{stc}", message=words, fix="correct the claim and resubmit"
                    )
                    for stc, words in a.errors
                ],
                x12=ev.x12,
            ),
        )
        for a in answers
    ]


async def _claim_ids(ctx: Context, icn: int) -> dict[str, str]:
    """CLM01 -> claim id of the interchange's claims."""
    subs = await repository_files.submissions_of(ctx.conn, icn)
    return {s["patient_control_number"]: s["claim_id"] for s in subs}
