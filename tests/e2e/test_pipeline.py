"""The whole pipeline on real Kafka and PostgreSQL, every service in its own process."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from rcm import readmodel
from rcm.demo import wait_settled
from runtime.kafka import client_config, producer_config
from runtime.settings import Settings
from schemas.codec import encode, new_meta
from schemas.events import EncounterCreated
from schemas.ids import claim_id_for
from services.claims.saga import State
from tests.e2e.conftest import TENANT, fetch, fresh_day

pytestmark = pytest.mark.e2e


def _lapsed(day: list[EncounterCreated]) -> set[str]:
    """The claims whose every coverage ended before the visit."""
    dos = day[0].date_of_service
    return {
        claim_id_for(TENANT, e.encounter_id)
        for e in day
        if e.coverages and all(c.termination_date and c.termination_date < dos for c in e.coverages)
    }


def test_every_encounter_settles(settled_day, live_stack: Settings) -> None:  # type: ignore[no-untyped-def]
    day, claim_ids = settled_day
    rows = asyncio.run(
        fetch(
            live_stack,
            "SELECT claim_id, state FROM claims.claims WHERE claim_id = ANY($1::text[])",
            claim_ids,
        )
    )
    assert len(rows) == 50
    states = {r["claim_id"]: r["state"] for r in rows}
    assert (
        readmodel.pending(
            claim_ids,
            {
                k: {"state": v, "patient_responsibility_cents": 0, "self_pay": False}
                for k, v in states.items()
            },
        )
        == 0
    )
    # Coverage that ended before the visit is held at eligibility; nothing else is.
    held = {cid for cid, st in states.items() if st == State.HELD}
    assert held == _lapsed(day)
    assert set(states.values()) <= {"HELD", "CLOSED", "PATIENT_BILLED", "DENIED"}
    assert sum(1 for st in states.values() if st in ("CLOSED", "PATIENT_BILLED")) >= 35


def test_every_adjudicated_claim_balances_to_the_cent(settled_day, live_stack: Settings) -> None:  # type: ignore[no-untyped-def]
    _, claim_ids = settled_day
    postings = asyncio.run(
        fetch(
            live_stack,
            "SELECT p.claim_id, p.payer_id, p.status_code, p.charge_cents, p.paid_cents,"
            " p.patient_responsibility_cents,"
            " (SELECT coalesce(sum(-amount_cents), 0) FROM remittance.ledger_lines l"
            "   WHERE l.posting_id = p.id AND kind = 'adjustment') AS adjusted,"
            " (SELECT coalesce(sum(-amount_cents), 0) FROM remittance.ledger_lines l"
            "   WHERE l.posting_id = p.id AND kind = 'adjustment' AND cas_group = 'PR') AS pr_cas"
            " FROM remittance.claim_postings p WHERE p.claim_id = ANY($1::text[])",
            claim_ids,
        )
    )
    assert postings, "no claim was posted"
    for p in postings:
        # charge = paid + every adjustment, where PR adjustments are the patient's share
        assert p["charge_cents"] == p["paid_cents"] + p["adjusted"], p["claim_id"]
        assert p["patient_responsibility_cents"] == p["pr_cas"], p["claim_id"]
    # Each claim posted once by each payer (a secondary or crossover payer answers after
    # the primary: CLP02 2), and the saga carries the money of the last payer's posting.
    assert len({(p["claim_id"], p["payer_id"]) for p in postings}) == len(postings)
    last = {}
    for p in sorted(postings, key=lambda p: p["status_code"] in ("2", "3")):
        last[p["claim_id"]] = p
    postings = list(last.values())
    saga = {
        r["claim_id"]: r
        for r in asyncio.run(
            fetch(
                live_stack,
                "SELECT claim_id, paid_cents, patient_responsibility_cents, total_charge_cents"
                " FROM claims.claims WHERE claim_id = ANY($1::text[])",
                claim_ids,
            )
        )
    }
    for p in postings:
        assert saga[p["claim_id"]]["paid_cents"] == p["paid_cents"]
        assert (
            saga[p["claim_id"]]["patient_responsibility_cents"] == p["patient_responsibility_cents"]
        )
        assert saga[p["claim_id"]]["total_charge_cents"] == p["charge_cents"]


def test_the_days_charges_reconcile_to_the_cent(settled_day, live_stack: Settings) -> None:  # type: ignore[no-untyped-def]
    """The demo's summary: every cent charged is paid, adjusted, the patients' share or,
    for a claim held for a person, in a work queue."""
    day, claim_ids = settled_day
    charges = readmodel.charges(claim_ids, day)

    async def read() -> dict[str, Any]:
        conn = await asyncpg.connect(live_stack.database_url)
        try:
            return await readmodel.summary(conn, charges, len(day))
        finally:
            await conn.close()

    result = asyncio.run(read())
    lapsed = sum(charges[cid] for cid in _lapsed(day))
    assert lapsed > 0, "the day should hold a claim for a person"
    assert result["charged_cents"] == sum(charges.values())
    assert result["waiting_for_a_person_cents"] == lapsed
    assert result["self_pay_cents"] == 0
    assert result["unreconciled_cents"] == 0
    assert result["patient_money_unreconciled_cents"] == 0
    assert result["paid_cents"] > 0
    assert result["adjusted_cents"] > 0
    assert result["patient_responsibility_cents"] > 0


def test_patients_are_billed_exactly_their_share(settled_day, live_stack: Settings) -> None:  # type: ignore[no-untyped-def]
    _, claim_ids = settled_day
    rows = asyncio.run(
        fetch(
            live_stack,
            "SELECT c.claim_id, c.state, c.patient_responsibility_cents AS pr,"
            " (SELECT coalesce(sum(amount_cents), 0) FROM statements.ledger l"
            "   WHERE l.claim_id = c.claim_id) AS balance,"
            " (SELECT coalesce(sum(-amount_cents), 0) FROM statements.ledger l"
            "   WHERE l.claim_id = c.claim_id AND l.reason = 'QMB') AS qmb,"
            " (SELECT count(*) FROM statements.statements s WHERE c.claim_id = ANY(s.claim_ids)) AS n"
            " FROM claims.claims c WHERE c.claim_id = ANY($1::text[]) AND c.state <> 'HELD'",
            claim_ids,
        )
    )
    # a QMB patient's Medicare cost sharing is written off, never billed
    billed = [r for r in rows if r["pr"] - r["qmb"] > 0]
    assert billed, "the day should leave some patients owing"
    for r in billed:
        assert r["state"] == "PATIENT_BILLED"
        assert r["balance"] == r["pr"] - r["qmb"], r["claim_id"]
        assert r["n"] == 1
    for r in rows:
        if r["pr"] - r["qmb"] == 0:
            assert r["n"] == 0
            assert r["state"] in ("CLOSED", "DENIED")


def test_each_claim_is_sent_once_as_an_original_to_each_payer(
    settled_day, live_stack: Settings
) -> None:  # type: ignore[no-untyped-def]
    _, claim_ids = settled_day
    rows = asyncio.run(
        fetch(
            live_stack,
            "SELECT patient_control_number, cob_level, count(*) AS n FROM claims.submissions"
            " WHERE claim_id = ANY($1::text[]) AND frequency_code = '1' GROUP BY 1, 2",
            claim_ids,
        )
    )
    assert rows
    assert all(r["n"] == 1 for r in rows)


async def _send_with_a_bad_one_between(
    live_stack: Settings, good: list[EncounterCreated], bad_claim: str
) -> int:
    """Sends good[0], a schema-invalid copy of it, and good[1] to one partition, in that
    order; returns the bad message's offset."""
    producer = AIOKafkaProducer(**producer_config(live_stack))
    await producer.start()
    tp_offsets = {}
    try:
        first = encode(
            good[0],
            new_meta(
                good[0],
                source="test",
                tenant=TENANT,
                correlation_id=claim_id_for(TENANT, good[0].encounter_id),
            ),
        )
        bad_body = orjson.loads(first.value)
        bad_body["lines"][0]["charge_cents"] = "twelve dollars"
        bad_meta = new_meta(good[0], source="test", tenant=TENANT, correlation_id=bad_claim)
        for enc, value, meta in (
            (good[0], first.value, None),
            (None, orjson.dumps(bad_body), bad_meta),
            (good[1], None, None),
        ):
            if enc is not None and value is None:
                x = encode(
                    enc,
                    new_meta(
                        enc,
                        source="test",
                        tenant=TENANT,
                        correlation_id=claim_id_for(TENANT, enc.encounter_id),
                    ),
                )
                value, headers = x.value, x.headers
            elif meta is not None:
                headers = meta.headers()
            else:
                headers = first.headers
            md = await producer.send_and_wait(
                "encounter.created", value, key=b"same-partition", partition=0, headers=headers
            )
            tp_offsets[md.offset] = meta is not None
    finally:
        await producer.stop()
    return next(o for o, is_bad in tp_offsets.items() if is_bad)


async def _dead_letters_of(
    live_stack: Settings, bad_offset: int
) -> list[tuple[str, dict[str, bytes]]]:
    """The dead letters of encounter.created's partition 0 at ``bad_offset`` (up to 4)."""
    consumer = AIOKafkaConsumer(
        "encounter.created.dlq", auto_offset_reset="earliest", **client_config(live_stack)
    )
    await consumer.start()
    found: list[tuple[str, dict[str, bytes]]] = []
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while asyncio.get_running_loop().time() < deadline and len(found) < 4:
            batch = await consumer.getmany(timeout_ms=500)
            for msgs in batch.values():
                for m in msgs:
                    h = dict(m.headers)
                    if h.get("dlq_source") == f"encounter.created:0:{bad_offset}".encode():
                        found.append((m.value.decode(), h))
    finally:
        await consumer.stop()
    return found


def test_a_schema_invalid_message_is_dead_lettered_and_its_neighbours_flow(
    fleet: object, live_stack: Settings
) -> None:
    good = fresh_day(2, seed=23)
    good = [e for e in good if e.coverages][:2]
    bad_claim = "CBADBADBADBADBAD"

    async def scenario() -> list[tuple[str, dict[str, bytes]]]:
        bad_offset = await _send_with_a_bad_one_between(live_stack, good, bad_claim)
        found = await _dead_letters_of(live_stack, bad_offset)
        claim_ids = [claim_id_for(TENANT, e.encounter_id) for e in good]
        await wait_settled(live_stack, claim_ids, timeout=120, progress=False)
        return found

    found = asyncio.run(scenario())
    services = {h["dlq_service"] for _, h in found}
    # Every consumer group of encounter.created dead-letters it once, with the reason.
    assert services == {b"rcm/eligibility", b"rcm/claims", b"rcm/statements", b"rcm/simulator"}
    for value, h in found:
        assert h["dlq_reason"] == b"schema-invalid"
        assert b"lines.0.charge_cents" in h["dlq_error"]
        assert "twelve dollars" in value  # the original bytes are kept for replay
        assert h["dlq_time"]
    rows = asyncio.run(
        fetch(live_stack, "SELECT 1 FROM claims.claim_events WHERE claim_id = $1", bad_claim)
    )
    assert rows == []
