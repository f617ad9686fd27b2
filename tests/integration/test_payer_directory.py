"""The payer directory on the real stack: `rcm payers import` (idempotent, a missing
payer kept inactive, a bad file naming its row and column and changing nothing),
GET /v1/payers (tenant-scoped), the hold of a claim to a payer the directory lacks,
and production's refusals at a service's start."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import orjson
import pytest
from typer.testing import CliRunner

from rcm import cli
from runtime.settings import REPO_ROOT, Settings
from services.claims.config import ClaimsSettings
from services.claims.directory import import_payers
from services.claims.payers import parse
from tests.integration.claims_world import (
    DIRECTORY,
    TENANT,
    Claims,
    claims_service,
    clm,
    coded,
    settings_for,
    submit,
)
from tests.integration.gateway_env import gateway_env

pytestmark = pytest.mark.integration

runner = CliRunner()
cli._register_subcommands()  # as `rcm` does: `rcm payers import`
HEADER = "payer_id,name,filing_indicator,timely_filing_days,days_to_pay,route_account,enroll_era\n"
NORIDIAN = "04412,NORIDIAN JE PART B,MB,365,14,availity-main,enrolled\n"
BLUE = "00431,BLUE PPO,12,90,21,availity-main,pending\n"


async def _rows(s: Settings, tenant: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(s.database_url)
    try:
        return list(
            await conn.fetch(
                "SELECT payer_id, filing_indicator, timely_filing_days, active"
                " FROM claims.payer_v1 WHERE tenant = $1 ORDER BY payer_id",
                tenant,
            )
        )
    finally:
        await conn.close()


def test_import_is_idempotent_and_keeps_a_missing_payer_inactive(
    live_stack: Settings, tmp_path: Path
) -> None:
    tenant = f"payers-{uuid.uuid4().hex[:6]}"
    both, one = tmp_path / "both.csv", tmp_path / "one.csv"
    both.write_text(HEADER + NORIDIAN + BLUE)
    one.write_text(HEADER + NORIDIAN.replace(",365,", ",366,"))

    def run(path: Path) -> str:
        r = runner.invoke(cli.app, ["payers", "import", str(path), "--tenant", tenant])
        assert r.exit_code == 0, r.output
        return r.stdout

    first = run(both)
    assert f"2 payers read for {tenant}: 2 new, 0 changed, 0 marked inactive" in first
    again = run(both)
    assert "0 new, 0 changed, 0 marked inactive" in again  # the same file: nothing moves
    assert "0 new, 1 changed, 1 marked inactive" in run(one)
    rows = asyncio.run(_rows(live_stack, tenant))
    assert [tuple(r) for r in rows] == [("00431", "12", 90, False), ("04412", "MB", 366, True)]


def test_a_bad_file_names_row_and_column_and_changes_nothing(
    live_stack: Settings, tmp_path: Path
) -> None:
    tenant = f"payers-{uuid.uuid4().hex[:6]}"
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(HEADER + NORIDIAN)
    bad.write_text(HEADER + BLUE + "99999,NEW PAYER,ZZZ,90,21,,\n")
    assert (
        runner.invoke(cli.app, ["payers", "import", str(good), "--tenant", tenant]).exit_code == 0
    )
    r = runner.invoke(cli.app, ["payers", "import", str(bad), "--tenant", tenant])
    assert r.exit_code == 1
    assert "bad.csv: row 3, column filing_indicator" in r.stderr
    rows = asyncio.run(_rows(live_stack, tenant))
    assert [(r["payer_id"], r["active"]) for r in rows] == [("04412", True)]


async def test_the_gateway_lists_the_tenants_own_payers(live_stack: Settings) -> None:
    async with gateway_env(live_stack, uuid.uuid4().hex[:10]) as env:
        async with env.claims.acquire() as conn:
            await import_payers(conn, "tenant-a", parse(HEADER + NORIDIAN + BLUE))
            await import_payers(conn, "tenant-b", parse(HEADER + BLUE))
            await import_payers(conn, "tenant-a", parse(HEADER + NORIDIAN))  # BLUE: inactive
        r = await env.client.get("/v1/payers", headers=env.auth("a_read"))
        assert r.status_code == 200, r.text
        payers = {p["payer_id"]: p for p in r.json()["payers"]}
        assert set(payers) == {"04412", "00431"}
        assert payers["04412"]["filing_indicator"] == "MB"
        assert payers["04412"]["route_account"] == "availity-main"
        assert (payers["00431"]["active"], payers["00431"]["enroll_era"]) == (False, "pending")
        r = await env.client.get("/v1/payers?active=true", headers=env.auth("a_read"))
        assert [p["payer_id"] for p in r.json()["payers"]] == ["04412"]
        r = await env.client.get("/v1/payers", headers=env.auth("b_all"))
        assert [p["payer_id"] for p in r.json()["payers"]] == ["00431"]  # tenant-b's own
        assert (await env.client.get("/v1/payers")).status_code == 401


@pytest.fixture
def cfg(request: pytest.FixtureRequest) -> ClaimsSettings:
    return settings_for(request)


@pytest.fixture
async def claims(live_stack: Settings, cfg: ClaimsSettings) -> AsyncIterator[Claims]:
    async with claims_service(live_stack, cfg) as service:
        yield service


async def test_a_claim_to_a_payer_not_in_the_directory_is_held_naming_it(claims: Claims) -> None:
    stray, known = coded(1, payer="04412"), coded(2, payer="MCR01")
    await submit(claims, stray, known)
    row = await claims.state(stray.claim_id)
    assert (row["state"], row["hold_stage"]) == ("HELD", "claims")
    reason = orjson.loads((await claims.timeline(stray.claim_id))[-1]["detail"])["reasons"][0]
    assert reason["code"] == "PAYER-UNKNOWN"
    assert "payer 04412 is not in tenant t1's payer directory" in reason["message"]
    [sent] = await claims.submitted()  # the known payer's claim went, filed as Medicare
    assert sent.claim_id == known.claim_id
    sbr = next(s.split("*") for s in sent.x12.split("~") if s.startswith("SBR*P"))
    assert sbr[9] == "MB"
    assert clm(sent.x12, known.patient_control_number)


async def test_a_payer_dropped_from_the_directory_is_kept_and_its_claims_held(
    claims: Claims,
) -> None:
    without_medicare = "\n".join(
        line for line in DIRECTORY.splitlines() if not line.startswith("MCR01")
    )
    async with claims.pool.acquire() as conn:
        done = await import_payers(conn, TENANT, parse(without_medicare))
    assert done.deactivated == 1
    claim = coded(3, payer="MCR01")
    await submit(claims, claim)
    reason = orjson.loads((await claims.timeline(claim.claim_id))[-1]["detail"])["reasons"][0]
    assert (reason["code"], reason["message"]) == (
        "PAYER-INACTIVE",
        "payer MCR01 is inactive in tenant t1's payer directory"
        " (it was missing from the last import)",
    )
    assert await claims.submitted() == []


def _start_claims(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCM_")}
    env |= {"RCM_ENV": "production", **extra}
    return subprocess.run(
        [sys.executable, "-m", "services.claims"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_a_compressed_payer_day_test_interchanges_and_the_simulator() -> None:
    r = _start_claims({"RCM_CLAIMS_SECONDS_PER_PAYER_DAY": "4"})
    assert r.returncode == 1
    assert "RCM_CLAIMS_SECONDS_PER_PAYER_DAY is a dev-only compression" in r.stderr
    r = _start_claims({"RCM_X12_USAGE": "T"})
    assert r.returncode == 1
    assert "RCM_X12_USAGE=T sends test interchanges" in r.stderr
    assert "RCM_CLEARINGHOUSE_URL points at the simulator" in r.stderr
