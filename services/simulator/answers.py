"""The clearinghouse receiving an 837P file from the mailbox: the interchange stored and
read once, its 999 and 277CA recorded as answer files (written into the inbound folder
when due, services/simulator/mailbox.py), its accepted claims queued for their payers.
A few statements per interchange, none per claim.

The clearinghouse cannot tell the practices of one mailbox apart (they share the
account and, locally, the ISA sender id), so everything it keeps of a mailbox's files is
kept under one name, :data:`MAILBOX` (its "tenant" in the payer's tables): the payers
answer per payer and payee, and the billing system routes the answers by content.
"""

from __future__ import annotations

import datetime as dt

import asyncpg

from runtime.settings import Settings
from services.simulator import clearinghouse, delivery, payer, repository
from services.simulator.clearinghouse import CLEARINGHOUSE_ID, CLEARINGHOUSE_NAME
from services.simulator.config import SimulatorSettings
from services.simulator.repository_mailbox import OutFile
from services.simulator.x12_277ca import ClaimAck, write_277ca
from services.simulator.x12_837 import Interchange837, triage_837
from services.simulator.x12_999 import write_999

#: The tenant column of what the clearinghouse keeps of the mailbox's files.
MAILBOX = "mailbox"


def answer_name(icn: int, kind: str) -> str:
    """An answer file's name, by type: SIM000000123.999, SIM000000124.277ca."""
    return f"SIM{icn:09d}.{kind.lower()}"


async def receive_837(
    conn: asyncpg.Connection,
    s: Settings,
    cfg: SimulatorSettings,
    *,
    name: str,
    digest: str,
    text: str,
) -> tuple[str, int | None, list[OutFile]]:
    """(outcome, received id, answer files) of one 837 file; stores the interchange and
    queues its accepted claims. Raises X12Error when the envelope cannot be read."""
    sender, icn = clearinghouse.interchange_id(text)
    received_id = await repository.store_received(
        conn, tenant=MAILBOX, claim_id=name, event_id=f"file:{digest[:16]}",
        traceparent=None, x12=text, sender=sender, icn=icn,
    )  # fmt: skip
    if received_id is None:  # the same interchange under another name: answered once
        return "duplicate-interchange", None, []
    inter = triage_837(text)
    claims = list(inter.claims())
    await repository.set_claim_count(conn, received_id, len(claims))
    submitter = inter.sender_id.strip()
    icn_999 = await repository.next_interchange_control(conn)
    ack_999 = write_999(inter, envelope=delivery.envelope(s, icn_999, CLEARINGHOUSE_ID, submitter))
    files: list[OutFile] = [(answer_name(icn_999, "999"), "999", ack_999, [], cfg.ack_delay_s)]
    if claims:
        files.append(await _277ca(conn, s, cfg, inter, received_id))
    return "answered", received_id, files


async def _277ca(
    conn: asyncpg.Connection,
    s: Settings,
    cfg: SimulatorSettings,
    inter: Interchange837,
    received_id: int,
) -> OutFile:
    """The interchange's 277CA and the claim statuses it makes true; queues every accepted
    claim for its payer."""
    today = dt.datetime.now(dt.UTC).date()
    acks = [ClaimAck(c, clearinghouse.edits(c, cfg)) for c in inter.claims()]
    submitter = inter.sender_id.strip()
    icn = await repository.next_interchange_control(conn)
    text = write_277ca(
        acks,
        envelope=delivery.envelope(s, icn, CLEARINGHOUSE_ID, submitter),
        source_name=CLEARINGHOUSE_NAME,
        source_id=CLEARINGHOUSE_ID,
        receiver_name=submitter,
        receiver_id=submitter,
        received=today,
        processed=today,
        batch_reference=inter.interchange_control_number,
        receipt_trace=f"R{received_id}",
    )
    await repository.receive_statuses(
        conn, MAILBOX, received_id, clearinghouse.received_statuses(acks)
    )
    states = [
        (a.claim.payer_id, a.claim.patient_control_number, "pending" if a.accepted else "rejected")
        for a in acks
    ]
    accepted = [a.claim for a in acks if a.accepted]
    if accepted:
        await repository.queue_adjudications(
            conn,
            received_id,
            MAILBOX,
            (
                (
                    c.payer_id,
                    c.billing_npi,
                    c.patient_control_number,
                    payer.payer_delay(cfg, c.payer_id),
                )
                for c in accepted
            ),
        )
    return answer_name(icn, "277CA"), "277CA", text, states, cfg.ack_delay_s
