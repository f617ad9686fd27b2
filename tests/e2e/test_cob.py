"""Coordination of benefits through the whole pipeline, every service in its own process:
a Medicare + Medigap claim goes to Medigap (a secondary 837P with loop 2430, valid to
pyx12) or is crossed over by Medicare (no 837P is sent), Medigap's payment posts and
the patient owes nothing; a QMB patient never gets a statement for Medicare's cost
sharing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from rcm.demo import publish, wait_settled
from runtime.settings import Settings
from schemas.common import Coverage
from schemas.events import EncounterCreated
from schemas.ids import claim_id_for
from tests.e2e.conftest import TENANT, fetch, fresh_day
from tests.pyx12check import problems

pytestmark = pytest.mark.e2e


def _fetch_now(s: Settings, sql: str, *args: object) -> list[asyncpg.Record]:
    return asyncio.run(fetch(s, sql, *args))


def test_medigap_claims_go_to_medigap_or_cross_over_and_its_payment_posts(  # type: ignore[no-untyped-def]
    settled_day, live_stack: Settings, tmp_path: Path
) -> None:
    day, _ = settled_day
    duals = [
        claim_id_for(TENANT, e.encounter_id)
        for e in day
        if [c.payer_id for c in sorted(e.coverages, key=lambda c: c.priority)] == ["MCR01", "MGP01"]
    ]
    assert duals, "the day should have Medicare + Medigap patients"
    medicare = {
        r["claim_id"]: r
        for r in _fetch_now(
            live_stack,
            "SELECT claim_id, status_code, patient_responsibility_cents AS pr"
            " FROM remittance.posting_v1 WHERE claim_id = ANY($1::text[]) AND payer_id = 'MCR01'",
            duals,
        )
    }
    onward = [cid for cid, r in medicare.items() if r["pr"] > 0]
    assert onward, "Medicare should leave some Medigap patient a share"
    sent = {
        r["claim_id"]: r["x12"]
        for r in _fetch_now(
            live_stack,
            "SELECT s.claim_id, i.x12 FROM claims.claim_submission_v1 s"
            " JOIN claims.interchange_v1 i USING (interchange_control_number)"
            " WHERE s.claim_id = ANY($1::text[]) AND s.cob_level = 2",
            onward,
        )
    }
    crossed = {
        r["claim_id"]
        for r in _fetch_now(
            live_stack,
            "SELECT claim_id FROM claims.claim_timeline_v1 WHERE claim_id = ANY($1::text[])"
            " AND event_type = 'rcm.claims.crossover' AND kind = 'transition'",
            onward,
        )
    }
    medigap = {
        r["claim_id"]: r
        for r in _fetch_now(
            live_stack,
            "SELECT claim_id, status_code, paid_cents, patient_responsibility_cents AS pr"
            " FROM remittance.posting_v1 WHERE claim_id = ANY($1::text[]) AND payer_id = 'MGP01'",
            onward,
        )
    }
    for cid in onward:
        if cid in crossed:  # Medicare forwarded it: nothing was sent to Medigap
            assert medicare[cid]["status_code"] == "19", cid
            assert cid not in sent, cid
        else:  # sent as a secondary claim carrying Medicare's answer line by line
            assert "SVD*MCR01*" in sent[cid], cid
            assert problems(tmp_path / f"{cid}.837", sent[cid]) == []
        # either way Medigap paid Medicare's coinsurance and deductible, posted as secondary
        assert medigap[cid]["status_code"] == "2", cid
        assert medigap[cid]["paid_cents"] == medicare[cid]["pr"], cid
        assert medigap[cid]["pr"] == 0, cid
    billed = _fetch_now(
        live_stack,
        "SELECT claim_id, sum(amount_cents) AS balance FROM statements.ledger_v1"
        " WHERE claim_id = ANY($1::text[]) GROUP BY claim_id",
        onward,
    )
    assert all(r["balance"] == 0 for r in billed)
    assert not _fetch_now(
        live_stack,
        "SELECT statement_id FROM statements.statement_v1 WHERE claim_ids && $1::text[]",
        onward,
    )


def _as_qmb(e: EncounterCreated) -> EncounterCreated:
    medicare = e.coverages[0]
    qmb = Coverage(
        payer_id="MCD01",
        payer_name="STATE MEDICAID SIM",
        member_id=f"MC{abs(hash(e.encounter_id)) % 10**9:09d}",
        plan="STATE MEDICAID QMB",
        priority=2,
        effective_date=medicare.effective_date,
    )
    return e.model_copy(update={"coverages": [medicare, qmb]})


def test_a_qmb_patient_never_gets_a_statement_for_medicare_cost_sharing(  # type: ignore[no-untyped-def]
    settled_day, live_stack: Settings
) -> None:
    fresh = [
        e
        for e in fresh_day(60, seed=29)
        if e.coverages
        and e.coverages[0].payer_id == "MCR01"
        and e.coverages[0].termination_date is None
    ]
    day = [_as_qmb(e) for e in fresh[:6]]
    assert day
    claim_ids = [claim_id_for(TENANT, e.encounter_id) for e in day]
    asyncio.run(publish(live_stack, day, TENANT))
    asyncio.run(wait_settled(live_stack, claim_ids, timeout=240, progress=False))
    medicare_share = {
        r["claim_id"]: r["pr"]
        for r in _fetch_now(
            live_stack,
            "SELECT claim_id, patient_responsibility_cents AS pr FROM remittance.posting_v1"
            " WHERE claim_id = ANY($1::text[]) AND payer_id = 'MCR01'",
            claim_ids,
        )
    }
    assert sum(medicare_share.values()) > 0, "Medicare should leave cost sharing"
    written_off = {
        r["claim_id"]: r["cents"]
        for r in _fetch_now(
            live_stack,
            "SELECT claim_id, -sum(amount_cents) AS cents FROM statements.ledger_v1"
            " WHERE claim_id = ANY($1::text[]) AND reason = 'QMB' GROUP BY claim_id",
            claim_ids,
        )
    }
    assert sum(written_off.values()) > 0, "Medicaid pays only up to its fee: some is left"
    balances = _fetch_now(
        live_stack,
        "SELECT claim_id, sum(amount_cents) AS balance FROM statements.ledger_v1"
        " WHERE claim_id = ANY($1::text[]) GROUP BY claim_id",
        claim_ids,
    )
    assert balances
    assert all(r["balance"] == 0 for r in balances)
    assert not _fetch_now(
        live_stack,
        "SELECT statement_id FROM statements.statement_v1 WHERE claim_ids && $1::text[]",
        claim_ids,
    )
