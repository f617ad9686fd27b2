"""`rcm chaos`: kill anything at any time, then prove nothing was lost or posted twice.

Runs a workload through the local stack while it kill -9s services at random moments
and restarts them (the connector at least once), restarts the Kafka broker, PostgreSQL
and the SFTP server once each, injects poison
messages, waits until every claim settles, and checks the books.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer

from rcm import stack
from rcm.cli_contracts import load_demo_contracts
from rcm.cli_payers import load_demo_payers
from rcm.demo import DemoError, publish, run_tagged, wait_settled
from rcm.processes import SERVICES, Fleet, fleet_env
from rcm.stack_base import Paths, StackError, stop_pid
from rcm.stack_kafka import kafka_up
from rcm.stack_sftp import sftp_down, sftp_up
from rcm.workload import generate_day
from runtime.kafka import producer_config
from runtime.lag import collect as collect_lag
from runtime.settings import Settings
from schemas.codec import new_meta
from schemas.ids import claim_id_for

POISON_REASONS = ("not-json", "schema-invalid", "unknown-type", "oversize", "missing-header")


async def inject_poison(s: Settings, tenant: str, sample: Any) -> int:
    """One message of each kind of poison on encounter.created. Returns how many."""
    meta = new_meta(sample, source="rcm/chaos", tenant=tenant, correlation_id="POISON")
    good = meta.headers()
    unknown = [(k, b"rcm.encounter.created.v99" if k == "ce_type" else v) for k, v in good]
    body = orjson.loads(orjson.dumps(sample.model_dump(mode="json")))
    body["lines"] = "not a list"
    payloads = [
        (b"{this is not json", good),
        (orjson.dumps(body), good),
        (orjson.dumps(sample.model_dump(mode="json")), unknown),
        (b"x" * 1_500_000, good),
        (b"{}", [(k, v) for k, v in good if k != "ce_tenantid"]),
    ]
    producer = AIOKafkaProducer(**producer_config(s))
    await producer.start()
    try:
        for value, headers in payloads:
            await producer.send_and_wait(
                "encounter.created",
                value,
                key=b"poison",
                headers=[(k, v) for k, v in headers if k != "ce_id"]
                + [("ce_id", uuid.uuid4().hex.encode())],
            )
    finally:
        await producer.stop()
    return len(payloads)


async def _group_lag(s: Settings, group: str) -> int:
    return sum(r.lag for r in await collect_lag(s, groups=[group]))


async def _drain_seconds(s: Settings, group: str, limit: float = 120) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        try:
            if await _group_lag(s, group) == 0:
                return round(time.monotonic() - t0, 2)
        except Exception:  # noqa: S110 - the broker may be restarting
            pass
        await asyncio.sleep(0.5)
    return float("inf")


def restart_kafka(s: Settings) -> None:
    p = Paths(s.stack_dir)
    stop_pid(p.kafka_pid, "Kafka")
    for attempt in range(3):
        try:
            kafka_up(s, p)
            return
        except StackError:
            # The old broker's listener may not be released yet: wait and try again.
            if attempt == 2:
                raise
            time.sleep(2.0)


def restart_one(s: Settings, which: int) -> str:
    """Restarts the ``which``-th piece of infrastructure; returns its name."""
    name, restart = (
        ("kafka", restart_kafka),
        ("postgresql", restart_postgres),
        ("sftp", restart_sftp),
    )[which]
    restart(s)
    return name


def restart_sftp(s: Settings) -> None:
    """Stops the mailbox's sshd and its sessions, then starts it again: the connector
    loses its connection mid-poll or mid-upload and must reconnect."""
    sftp_down(s)
    time.sleep(0.5)
    sftp_up(s)


def restart_postgres(s: Settings) -> None:
    stack.pg_down(s)
    stack.pg_up(s)


async def checks(
    s: Settings, claim_ids: list[str], poison: int, since: dt.datetime
) -> dict[str, Any]:
    conn = await asyncpg.connect(s.database_url)
    try:
        have = await conn.fetchval(
            "SELECT count(*) FROM claims.claim_v1 WHERE claim_id = ANY($1::text[])", claim_ids
        )
        dup_sub = await conn.fetchval(
            "SELECT count(*) FROM (SELECT payer_id, patient_control_number"
            " FROM simulator.pending_adjudication_v1 WHERE patient_control_number = ANY($1::text[])"
            " GROUP BY 1, 2 HAVING count(*) > 1) d",  # a secondary claim: same CLM01, next payer
            claim_ids,
        )
        dup_post = await conn.fetchval(
            "SELECT count(*) FROM (SELECT claim_id, status_code FROM remittance.posting_v1"
            " WHERE claim_id = ANY($1::text[]) GROUP BY 1, 2 HAVING count(*) > 1) d",
            claim_ids,
        )
        dup_charge = await conn.fetchval(
            "SELECT count(*) FROM (SELECT claim_id FROM statements.ledger_v1 WHERE kind = 'charge'"
            " AND claim_id = ANY($1::text[]) GROUP BY 1 HAVING sum(sign(amount_cents)) > 1) d",
            claim_ids,
        )
        unbalanced_remit = await conn.fetchval(
            "SELECT count(*) FROM (SELECT posting_id FROM remittance.ledger_line_v1"
            " WHERE claim_id = ANY($1::text[]) GROUP BY 1 HAVING sum(amount_cents) <> 0) d",
            claim_ids,
        )
        unbalanced_patient = await conn.fetchval(
            "SELECT count(*) FROM claims.claim_v1 c WHERE c.claim_id = ANY($1::text[])"
            " AND c.state IN ('PATIENT_BILLED', 'CLOSED', 'PAID', 'PARTIALLY_PAID')"
            " AND c.patient_responsibility_cents <> (SELECT coalesce(sum(amount_cents), 0)"
            "  FROM statements.ledger_v1 l WHERE l.claim_id = c.claim_id"
            "  AND l.kind NOT IN ('patient_payment', 'refund')"
            "  AND l.reason IS DISTINCT FROM 'QMB')",  # a QMB patient's share: written off
            claim_ids,
        )
        dead: dict[str, int] = {}
        for schema in SERVICES:
            exists = await conn.fetchval("SELECT to_regclass($1)", f"{schema}.dead_letters")
            if exists:
                rows = await conn.fetch(
                    f"SELECT reason, count(*) AS n FROM {schema}.dead_letters"
                    " WHERE at >= $1 GROUP BY 1",
                    since,
                )
                for r in rows:
                    dead[f"{schema}:{r['reason']}"] = int(r["n"])
        unexpected = {k: v for k, v in dead.items() if k.split(":", 1)[1] not in POISON_REASONS}
        return {
            "lost": len(claim_ids) - int(have),
            "duplicate_submissions": int(dup_sub),
            "duplicate_postings": int(dup_post) + int(dup_charge),
            "unbalanced_ledgers": int(unbalanced_remit) + int(unbalanced_patient),
            "dead_letters": dead,
            "unexpected_dead_letters": sum(unexpected.values()),
            "poison_injected": poison,
        }
    finally:
        await conn.close()


def run(
    s: Settings,
    *,
    claims: int,
    seed: int,
    kills: int,
    out: Path,
    timeout: float,
    restart_infra: bool = True,
) -> dict[str, Any]:
    rng = random.Random(seed)
    started = dt.datetime.now(dt.UTC)
    stack.up(s)
    tenant = f"chaos-{uuid.uuid4().hex[:6]}"
    dos = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    day = run_tagged(
        generate_day(claims, seed, tenant=tenant, date_of_service=dos), uuid.uuid4().hex[:8]
    )
    claim_ids = [claim_id_for(tenant, e.encounter_id) for e in day]
    drains: list[dict[str, Any]] = []
    infra: list[str] = []
    t0 = time.monotonic()
    with Fleet(out / "logs", env=fleet_env(s)) as fleet:
        fleet.start()
        fleet.wait_healthy()
        # the tenant's payer directory, once, before anything is killed or restarted
        asyncio.run(load_demo_payers(s, tenant))
        asyncio.run(load_demo_contracts(s, tenant))
        poison = asyncio.run(inject_poison(s, tenant, day[0]))
        chunks = [day[i::4] for i in range(4)]
        names = list(fleet.procs)
        plan = sorted(rng.sample(range(kills + 3), 3)) if restart_infra else []
        # the connector (uploads in flight, inbound files half taken) dies at least once
        victims = ["connector"] if "connector" in names else []
        for step in range(kills + (3 if restart_infra else 0)):
            if chunks:
                asyncio.run(publish(s, chunks.pop(), tenant, payers=False))
            time.sleep(rng.uniform(0.3, 2.0))
            if step in plan:
                infra.append(restart_one(s, plan.index(step)))
                continue
            victim = victims.pop() if victims else rng.choice(names)
            k0 = time.monotonic()
            fleet.kill(victim, signal.SIGKILL)
            time.sleep(rng.uniform(0.1, 1.5))
            fleet.start_one(victim)
            fleet.wait_healthy(timeout=120)
            drain = asyncio.run(_drain_seconds(s, f"rcm-{victim}"))
            drains.append(
                {"service": victim, "down_s": round(time.monotonic() - k0, 2), "drain_s": drain}
            )
        for chunk in chunks:
            asyncio.run(publish(s, chunk, tenant, payers=False))
        settled = True
        try:
            asyncio.run(wait_settled(s, claim_ids, timeout, progress=False))
        except DemoError:
            settled = False
    result = {
        "claims": claims,
        "kills": len(drains),
        "infra_restarts": infra,
        "settled": settled,
        "seconds": round(time.monotonic() - t0, 1),
        "kill_drains": drains,
    }
    result.update(asyncio.run(checks(s, claim_ids, poison, started)))
    result["ok"] = (
        settled
        and result["lost"] == 0
        and result["duplicate_submissions"] == 0
        and result["duplicate_postings"] == 0
        and result["unbalanced_ledgers"] == 0
        and result["unexpected_dead_letters"] == 0
    )
    return result
