"""`rcm demo`: a synthetic family-medicine day through every service, to a summary."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from rcm import demo_ledger, demo_serve, readmodel, stack, transport_core
from rcm.ackfiles import acknowledgement_files
from rcm.cli_contracts import load_demo_contracts
from rcm.cli_partners import load_demo_partner
from rcm.cli_payer_rules import load_demo_rules
from rcm.cli_payers import load_demo_payers
from rcm.demo_appeals import file_appeals
from rcm.mailroom import mailroom, wait_delivered
from rcm.practice import PRACTICE_CONTACT
from rcm.processes import Fleet, fleet_env
from rcm.workload import generate_day
from runtime.kafka import producer_config
from runtime.settings import Settings
from runtime.telemetry import new_traceparent
from schemas.codec import encode, new_meta
from schemas.events import EncounterCreated
from schemas.ids import claim_id_for
from services.statements import render as statement_render


class DemoError(RuntimeError):
    pass


def run_tagged(encounters: list[EncounterCreated], run: str) -> list[EncounterCreated]:
    """Gives this run's encounters and patients ids of their own, so runs never collide in
    one database (a second run's annual wellness visit is not the first run's patient's).
    A person's id gets a short tag of the run after it (``MRN12345678-7F3A9C``): it is the
    account number a statement prints."""
    people = uuid.uuid5(uuid.NAMESPACE_URL, run).hex[:6].upper()

    def tag(e: EncounterCreated) -> EncounterCreated:
        update: dict[str, object] = {
            "encounter_id": f"{run}-{e.encounter_id}",
            "patient": e.patient.model_copy(update={"id": f"{e.patient.id}-{people}"}),
        }
        if e.guarantor is not None:
            update["guarantor"] = e.guarantor.model_copy(
                update={"id": f"{e.guarantor.id}-{people}"}
            )
        return e.model_copy(update=update)

    return [tag(e) for e in encounters]


def practice_env(tenant: str) -> dict[str, str]:
    """The demo practice's statement contact for its tenant, unless the user set their
    own; its name and address come from the billing provider on each claim."""
    if "RCM_STATEMENTS_PRACTICES" in os.environ:
        return {}
    return {"RCM_STATEMENTS_PRACTICES": json.dumps({tenant: PRACTICE_CONTACT})}


async def publish(
    s: Settings, encounters: list[EncounterCreated], tenant: str, *, payers: bool = True
) -> None:
    """The encounters, as the practice's EHR posts them, once the tenant's payer directory
    holds the demo practice's payers (rcm/demo_payers.csv) and its contracts
    (rcm/demo_contracts.csv; an unchanged re-import is a no-op; ``payers=False`` when the
    caller loaded them): a claim to a payer the directory lacks is held."""
    if payers:
        await load_demo_payers(s, tenant)
        await load_demo_contracts(s, tenant)
        await load_demo_partner(s, tenant)  # its ISA/GS ids, submitter and receiver
    producer = AIOKafkaProducer(**producer_config(s))
    await producer.start()
    try:
        futures = []
        for enc in encounters:
            claim_id = claim_id_for(tenant, enc.encounter_id)
            meta = new_meta(
                enc,
                source="rcm/demo-ehr",
                tenant=tenant,
                correlation_id=claim_id,
                traceparent=new_traceparent(),
            )
            x = encode(enc, meta)
            futures.append(await producer.send(x.topic, x.value, key=x.key, headers=x.headers))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


#: Claims a settlement poll reads at a time (see wait_settled).
WATCH = 200
#: Seconds without a claim settling after which wait_settled gives up and says where the
#: claims are stuck, rather than wait out its whole timeout.
STALL_S = 300.0


async def wait_settled(
    s: Settings,
    claim_ids: list[str],
    timeout: float,
    progress: bool = True,
    *,
    stall_s: float = STALL_S,
) -> None:
    """Waits until every claim has no automatic step left. Gives up with a DemoError that
    says where the claims are stuck (how many in each state) after ``timeout``, or sooner
    when no claim has settled for ``stall_s`` seconds."""
    conn = await asyncpg.connect(s.database_url)
    try:
        deadline = time.monotonic() + timeout
        last = -1
        fewest, since = len(claim_ids) + 1, time.monotonic()
        # A poll reads WATCH claims at a time, the first not settled at the last poll, in
        # the order they were sent, and reads on while they come back settled (reading
        # all of a large run every half second took a share of the database and of the
        # machine from the run itself; a poll of 1,000 claims took 15 ms of PostgreSQL
        # in a burst); once none is left, every claim is read again, as a later event (a
        # reversal) may have given a settled claim work again. The progress line counts
        # the claims not yet read as pending.
        watch = claim_ids
        while True:
            while watch:
                head = readmodel.unsettled(
                    watch[:WATCH], await readmodel.claim_states(conn, watch[:WATCH])
                )
                watch = head + watch[WATCH:]
                if head:
                    break
            if not watch:
                watch = readmodel.unsettled(
                    claim_ids, await readmodel.claim_states(conn, claim_ids)
                )
            left = len(watch)
            if left == 0:
                return
            if progress and left != last:
                print(f"  {len(claim_ids) - left}/{len(claim_ids)} claims settled", flush=True)
                last = left
            now = time.monotonic()
            if left < fewest:
                fewest, since = left, now
            elif now - since > stall_s or now > deadline:
                # the watched head may be stuck while claims behind it settle: count all
                states = await readmodel.claim_states(conn, claim_ids)
                stuck = readmodel.unsettled(claim_ids, states)
                if now > deadline:
                    raise DemoError(
                        f"{len(stuck)} claims still pending after {timeout:.0f} s: "
                        + readmodel.where(stuck, states)
                    )
                if len(stuck) < fewest:
                    fewest, since = len(stuck), now
                else:
                    raise DemoError(
                        f"no claim settled for {stall_s:.0f} s; {len(stuck)} of"
                        f" {len(claim_ids)} still pending: " + readmodel.where(stuck, states)
                    )
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


async def collect(
    s: Settings,
    claim_ids: list[str],
    encounters: list[EncounterCreated],
    out: Path,
    since: dt.datetime | None = None,
) -> dict[str, Any]:
    conn = await asyncpg.connect(s.database_url)
    try:
        charges = readmodel.charges(claim_ids, encounters)
        result = await readmodel.summary(conn, charges, len(encounters))
        x12_dir = out / "x12"
        x12_dir.mkdir(parents=True, exist_ok=True)
        icns = []
        for icn, text in await readmodel.interchanges(conn, claim_ids):
            (x12_dir / f"{icn}.837").write_text(text)
            icns.append(icn)
        since = since or dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        result["transport"] = await readmodel.transport(conn, s.tenant, icns, since)
        for name, text in await readmodel.remits(conn, claim_ids):
            (x12_dir / f"{name}.835").write_text(text)
        for name, text in await acknowledgement_files(s, claim_ids):  # 999s and 277CAs
            (x12_dir / name).write_text(text)
        await transport_core.write_exchanges(conn, claim_ids, x12_dir)  # 270s and 271s
        transport_core.with_core(result, await transport_core.core_requests(conn, claim_ids))
        st_dir = out / "statements"
        st_dir.mkdir(parents=True, exist_ok=True)
        for st in await readmodel.statements(conn, claim_ids):
            body = json.loads(st.pop("body")) if isinstance(st["body"], str) else st.pop("body")
            doc = {**st, **body}
            (st_dir / f"{st['statement_id']}.json").write_text(
                json.dumps(doc, indent=2, default=str)
            )
            statement_render.write_documents(doc, st_dir)
        return result
    finally:
        await conn.close()


def run(
    s: Settings,
    *,
    encounters: int,
    seed: int,
    out: Path,
    timeout: float,
    serve: bool = False,
) -> dict[str, Any]:
    """The day, settled, and its summary. With ``serve`` the encounters go through the
    gateway's API and the services stay up after (``rcm demo --serve``) until Ctrl-C."""
    t0 = time.monotonic()
    started = dt.datetime.now(dt.UTC)
    stack.up(s)
    out.mkdir(parents=True, exist_ok=True)
    tenant = s.tenant
    run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S") + uuid.uuid4().hex[:4]
    # Yesterday's clinic day, so every payer's timely-filing window is open.
    dos = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    day = run_tagged(generate_day(encounters, seed, tenant=tenant, date_of_service=dos), run_id)
    claim_ids = [claim_id_for(tenant, e.encounter_id) for e in day]
    # The demo payers' rules (rcm/payer_rules/), before coding starts: it reads them then.
    asyncio.run(load_demo_rules(s, tenant))
    with (
        mailroom(s, out) as delivery_env,
        Fleet(
            out / "logs",
            env=fleet_env(s) | practice_env(tenant) | demo_ledger.ledger_env(tenant) | delivery_env,
        ) as fleet,
    ):
        fleet.start()
        fleet.wait_healthy()
        print(f"services up; publishing {len(day)} encounters", flush=True)
        t_pub = time.monotonic()
        if serve:
            asyncio.run(demo_serve.publish_through_gateway(s, day, tenant))
        else:
            asyncio.run(publish(s, day, tenant))
        copays = demo_ledger.copays(day)  # paid at check-in, before insurance answers
        asyncio.run(demo_ledger.send(s, tenant, list(copays), "rcm/demo-front-desk"))
        asyncio.run(wait_settled(s, claim_ids, timeout))
        asyncio.run(demo_ledger.refund_credits(s, tenant, claim_ids, run_id))
        settle_s = time.monotonic() - t_pub
        appealed = asyncio.run(file_appeals(s, tenant, claim_ids, 30))
        if appealed:  # the payers' reprocessing 835s give some claims work again
            print(f"{appealed} claims appealed; waiting for the payers", flush=True)
            asyncio.run(wait_settled(s, claim_ids, timeout))
        delivered = asyncio.run(wait_delivered(s, claim_ids, 60))
        result = asyncio.run(collect(s, claim_ids, day, out, started)) | delivered
        result["run"] = run_id
        result["seed"] = seed
        result["seconds_to_settle"] = round(settle_s, 2)
        result["wall_seconds"] = round(time.monotonic() - t0, 2)
        (out / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
        if serve:
            demo_serve.hold_open(s, tenant, result, out)
    return result
