"""Bulk coverage import: rows land in the registry with history; a bad file changes nothing."""

from __future__ import annotations

import uuid

import pytest

from runtime.db import create_pool, migrate
from runtime.service import Record, Service
from runtime.settings import REPO_ROOT, Settings
from schemas.codec import encode, new_meta
from schemas.events_coverage import CoverageReported
from services.eligibility import handlers
from services.eligibility.bulk import ImportError_, import_rows, parse
from tests.throwaway import throwaway_service

pytestmark = pytest.mark.integration

MIGRATIONS = REPO_ROOT / "services" / "eligibility" / "migrations"
HEADER = "patient_id,payer_id,payer_name,member_id,plan,effective_date,termination_date,priority\n"


async def test_import_keeps_history_and_is_idempotent(live_stack: Settings) -> None:
    pool = await create_pool(live_stack, "eligibility")
    await migrate(pool, "eligibility", MIGRATIONS)  # as the service does when it starts
    tenant = f"bulk-{uuid.uuid4().hex[:6]}"
    first = (
        HEADER
        + "P1,PPO01,BLUE MEADOW PPO,BMP1,PPO,2026-01-01,,1\n"
        + ("P1,MCD01,STATE MEDICAID SIM,MCD9,MCD,2026-01-01,,2\n")
    )
    ended = HEADER + "P1,PPO01,BLUE MEADOW PPO,BMP1,PPO,2026-01-01,2026-06-30,1\n"
    async with pool.acquire() as conn:
        assert await import_rows(conn, tenant, parse(first)) == 2
        assert await import_rows(conn, tenant, parse(first)) == 0  # same file: nothing new
        assert await import_rows(conn, tenant, parse(ended)) == 1
        rows = await conn.fetch(
            "SELECT payer_id, termination_date, valid_to IS NULL AS current, source"
            " FROM eligibility.coverages WHERE tenant = $1 ORDER BY id",
            tenant,
        )
    await pool.close()
    history = [(r["payer_id"], str(r["termination_date"]), r["current"]) for r in rows]
    assert history == [
        ("PPO01", "None", False),
        ("MCD01", "None", True),
        ("PPO01", "2026-06-30", True),
    ]
    assert {r["source"] for r in rows} == {"import"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("patient_id,payer_id\nP1,PPO01\n", "header lacks column(s)"),
        (HEADER + "P1,PPO01,BLUE MEADOW PPO,BMP1,PPO,01/02/2026,,1\n", "row 2: effective_date"),
        (HEADER + ",PPO01,BLUE MEADOW PPO,BMP1,PPO,2026-01-01,,1\n", "row 2: patient_id is empty"),
        (HEADER + "P1,PPO01,BLUE MEADOW PPO,BMP1,PPO,2026-01-01,,7\n", "row 2: priority"),
        (HEADER, "no coverage rows"),
    ],
)
def test_a_bad_file_is_refused_naming_row_and_field(text: str, message: str) -> None:
    with pytest.raises(ImportError_) as err:
        parse(text)
    assert message in str(err.value)


async def test_a_coverage_reported_through_the_gateway_is_recorded_once(
    live_stack: Settings,
) -> None:
    def wire(svc: Service) -> None:
        svc.on(CoverageReported, handlers.on_coverage_reported)

    async with throwaway_service("it-cov", MIGRATIONS, wire, live_stack) as svc:
        ev = CoverageReported(
            patient_id="P7",
            coverage=parse(HEADER + "P7,HDHP1,SUMMIT HDHP,SH7,HDHP,2026-01-01,,1\n")[0].coverage,
        )
        x = encode(ev, new_meta(ev, source="test", tenant="t-cov", correlation_id="P7"))
        rec = Record(ev.TOPIC, 0, 0, x.key, x.value, x.headers)
        await svc.process(ev.TOPIC, [rec, rec])  # redelivered: recorded once
        assert svc.pool is not None
        rows = await svc.pool.fetch(
            "SELECT patient_id, payer_id, member_id, source FROM coverages WHERE tenant = 't-cov'"
        )
        assert [tuple(r) for r in rows] == [("P7", "HDHP1", "SH7", "gateway")]
