"""An 837 interchange reached the clearinghouse (x12.file-sent, from the connector):
its claims are SUBMITTED now, not when the batcher built the file.

The batcher hands each interchange to the connector (x12.interchange-ready) and leaves
its claims in CODED, no longer waiting to be batched (``outgoing_frequency`` NULL);
while an upload fails they stay there, the reason on the connector's
``outbound_files_v1.last_error`` (the interchange's control number ties them:
``submissions_v1``). When the upload and its rename are done, each claim takes the
SUBMIT step here: its timers start and its claim.submitted goes out, as the batcher
did before. An interchange this room never built is logged and counted, not applied.
A failed upload (x12.file-send-failed, sent by the connector when the reason is new) is
a note on each of its claims' timelines, with the reason and the next try.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from runtime.context import Context
from schemas.events import ClaimSubmitted
from schemas.events_transport import X12FileSendFailed, X12FileSent
from services.claims import repository_files, saga
from services.claims.config import ClaimsSettings
from services.claims.handlers import Change, apply
from services.claims.saga import State

log = logging.getLogger("rcm.claims.sent")


def _claim_context(ctx: Context, claim_id: str, traceparent: str | None) -> Context:
    """The file's event, worked as one of its claims: in the batch's transaction and
    outbox, on the claim's own trace (its claim.submitted continues the claim's trace)."""
    return ctx.caused(tenant=ctx.meta.tenant, correlation_id=claim_id, traceparent=traceparent)


async def on_file_sent(ctx: Context, ev: X12FileSent, *, cfg: ClaimsSettings) -> None:
    icn = int(ev.interchange_control_number)
    if not await submit_interchange(ctx, cfg, icn, file=ev.name, attempts=ev.attempts):
        log.warning("an uploaded 837 names an interchange this room never built",
                    extra={"interchange": ev.interchange_control_number})  # fmt: skip


async def submit_answered(
    ctx: Context, cfg: ClaimsSettings, claim_ids: Sequence[str], icn: int | None
) -> int:
    """An answer from the clearinghouse or the payer (a 999, a 277CA, an 835) for claims
    still CODED, handed to the connector and not yet reported uploaded: the answer is the
    proof that the clearinghouse has the file, so their interchange is SUBMITTED now, as
    x12.file-sent would have done (which, when it comes, is a late step: recorded, no
    second claim.submitted). The clearinghouse reads a file as soon as it is renamed in
    the mailbox, which can be before claims applies the upload's report (another topic,
    another partition). Returns the interchanges submitted so."""
    waiting = await repository_files.awaiting_upload(ctx.conn, claim_ids, icn)
    for tenant, inter in waiting:
        c = ctx
        if tenant != ctx.meta.tenant:  # a shared mailbox's answer: the claims' own tenant
            c = ctx.caused(tenant=tenant, correlation_id=f"{inter:09d}")
        await submit_interchange(c, cfg, inter, file=None, attempts=None)
    return len(waiting)


async def submit_interchange(
    ctx: Context, cfg: ClaimsSettings, icn: int, *, file: str | None, attempts: int | None
) -> bool:
    """Each claim of the tenant's interchange ``icn`` takes the SUBMIT step (``file``:
    the uploaded name; None when an answer proved the upload first). False: no such
    interchange."""
    inter = await repository_files.interchange_of(ctx.conn, ctx.meta.tenant, icn)
    if inter is None:
        return False
    subs = await repository_files.submissions_of(ctx.conn, icn)
    n = len(subs)
    rows = await repository_files.lock_all(ctx, [s["claim_id"] for s in subs])
    for sub in subs:
        claim_id, row = sub["claim_id"], rows.get(sub["claim_id"])
        current = State(row["state"]) if row is not None else None
        c = _claim_context(ctx, claim_id, sub["traceparent"])
        pcn, freq = sub["patient_control_number"], sub["frequency_code"]
        detail = {
            "interchange_control_number": f"{icn:09d}",
            "frequency_code": freq,
            "patient_control_number": pcn,
            "claims_in_interchange": n,
            "file": file or "(answered before the connector reported the upload)",
            "upload_attempts": attempts,
        }
        submitted = ClaimSubmitted(
            claim_id=claim_id,
            patient_control_number=pcn,
            payer_id=inter["payer_id"],
            interchange_control_number=f"{icn:09d}",
            group_control_number=str(inter["group_control_number"]),
            transaction_control_number="0001",
            frequency_code=freq,
            total_charge_cents=sub["total_charge_cents"] or 0,
            x12=inter["x12"],
        )
        change = Change(
            {"frequency_code": freq, "outgoing_frequency": None},
            detail,
            payer_id=inter["payer_id"],
            timer_detail={"interchange": icn},
            emit=submitted,
        )
        await apply(c, cfg, saga.SUBMIT, claim_id, current, change)
    return True


async def on_file_send_failed(ctx: Context, ev: X12FileSendFailed, *, cfg: ClaimsSettings) -> None:
    icn = int(ev.interchange_control_number)
    inter = await repository_files.interchange_of(ctx.conn, ctx.meta.tenant, icn)
    if inter is None:
        log.warning("a failed upload names an interchange this room never built",
                    extra={"interchange": ev.interchange_control_number})  # fmt: skip
        return
    subs = await repository_files.submissions_of(ctx.conn, icn)
    rows = await repository_files.lock_all(ctx, [s["claim_id"] for s in subs])
    note = (
        f"upload of interchange {icn:09d} to clearinghouse account {ev.account} failed"
        f" (attempt {ev.attempts}): {ev.reason}; next try in {ev.retry_in_s:.0f} s"
    )
    detail = {"interchange_control_number": f"{icn:09d}", "file": ev.name,
              "account": ev.account, "upload_attempts": ev.attempts, "reason": ev.reason}  # fmt: skip
    for sub in subs:
        claim_id, row = sub["claim_id"], rows.get(sub["claim_id"])
        current = State(row["state"]) if row is not None else None
        c = _claim_context(ctx, claim_id, sub["traceparent"])
        change = Change(detail=detail, payer_id=inter["payer_id"])
        await apply(c, cfg, saga.UPLOAD_FAILED, claim_id, current, change, note=note)
