"""Contracts and underpayments on the real stack: a tenant's contract imported, an 835
line allowed below it by more than the threshold becomes a work item in the gateway's
underpayments queue naming expected and paid (a line paid right, or short by less, does
not); an effective-dated change applies by date of service; an import that changes a
rate reaches the next 835 (the cache reloads) and re-importing changes nothing;
`rcm contracts import` names every bad row and writes nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from typer.testing import CliRunner

from rcm import cli
from rcm.cli_keys import create_key
from runtime.service import Service
from runtime.settings import Settings
from runtime.x12 import segment
from services.remittance import contract_store
from services.remittance.contract_cache import CONTRACTS
from services.remittance.contract_file import parse_contracts, parse_fee_schedule
from tests.integration.gateway_env import gateway_env
from tests.integration.remittance_world import (
    TENANT,
    clp,
    remit,
    remittance_service,
    rows,
    submit,
    x835,
)

pytestmark = pytest.mark.integration

runner = CliRunner()
cli._register_subcommands()  # as `rcm` does: `rcm contracts import`
HEADER = (
    "payer_id,procedure_code,modifier,place_of_service,effective_from,effective_to,"
    "allowed_cents,fee_schedule,percent\n"
)
# Medicare's 99213 at 90.00 until February, 95.00 from March 2025; every other code at
# 100 % of the tenant's fee schedule
CONTRACT = (
    HEADER
    + "MCR01,99213,,,2025-01-01,2025-02-28,9000,,\n"
    + "MCR01,99213,,,2025-03-01,,9500,,\n"
    + "MCR01,*,,,2025-01-01,,,MPFS,100\n"
)
FEES = "procedure_code,modifier,allowed_cents\n36415,,300\n99214,,13000\n"


@pytest.fixture
async def svc(live_stack: Settings) -> AsyncIterator[Service]:
    async with remittance_service(live_stack) as service:
        assert service.pool is not None
        async with service.pool.acquire() as conn:
            await contract_store.import_fee_schedule(conn, TENANT, "MPFS", parse_fee_schedule(FEES))
            await contract_store.import_contracts(conn, TENANT, parse_contracts(CONTRACT))
        yield service


def svc_line(code: str, charge: str, paid: str, allowed: str, day: str) -> list[str]:
    """An SVC paid ``paid`` of ``allowed``, the rest of the charge CO-45, the rest of the
    allowed amount PR-2 (coinsurance)."""
    c, p, a = (Decimal(x) for x in (charge, paid, allowed))
    out = [segment("SVC", f"HC:{code}", charge, paid, "", "1"), segment("DTM", "472", day)]
    if c > a:
        out.append(segment("CAS", "CO", "45", str(c - a)))
    if a > p:
        out.append(segment("CAS", "PR", "2", str(a - p)))
    out.append(segment("AMT", "B6", allowed))
    return out


async def underpaid(svc: Service) -> list[dict[str, Any]]:
    return await rows(
        svc,
        "SELECT claim_id, line_number, procedure, service_date, expected_cents, allowed_cents,"
        " paid_cents, shortfall_cents, basis FROM underpayment_v1 ORDER BY claim_id, line_number",
    )


async def test_a_line_paid_short_of_the_contract_is_a_work_item_naming_expected_and_paid(
    svc: Service, live_stack: Settings
) -> None:
    await submit(svc, "CLAIM-U1", "U1", 40000)
    claim = clp(
        "U1", "1", "400", "178.40", "44.60", "PCN-U1",
        *svc_line("99213", "150", "72", "90", "20250314"),  # 95.00 in force: 5.00 short
        *svc_line("99214", "150", "104", "130", "20250314"),  # 130.00: paid right
        *svc_line("36415", "100", "2.40", "3", "20250314"),  # 3.00: paid right
    )  # fmt: skip
    await remit(svc, x835("178.40", "TR-U1", claim), "TR-U1")
    assert await underpaid(svc) == [
        {
            "claim_id": "CLAIM-U1",
            "line_number": 1,
            "procedure": "99213",
            "service_date": dt.date(2025, 3, 14),
            "expected_cents": 9500,
            "allowed_cents": 9000,
            "paid_cents": 7200,
            "shortfall_cents": 500,
            "basis": "allowed 95.00 from 2025-03-01",
        }
    ]
    # the biller's queue in the gateway shows it, with expected and paid
    uid = uuid.uuid4().hex[:8]
    async with gateway_env(live_stack, uid, remittance_schema=svc.schema) as env:
        key = await create_key(TENANT, ["read"], "remit-reader", 1000, schema=env.g.schema_name)
        auth = {"Authorization": f"Bearer {key['token']}"}
        r = await env.client.get("/v1/workqueues/underpayments", headers=auth)
        assert r.status_code == 200, r.text
        [item] = r.json()["items"]
        assert (item["kind"], item["claim_id"], item["procedure"], item["expected_cents"],
                item["paid_cents"], item["shortfall_cents"]) == (
            "underpaid_line", "CLAIM-U1", "99213", 9500, 7200, 500)  # fmt: skip
        r = await env.client.get("/v1/reports/underpayments", headers=auth)
        assert r.json()["underpayments"] == [
            {"payer_id": "MCR01", "month": "2025-03", "lines": 1, "expected_cents": 9500,
             "allowed_cents": 9000, "paid_cents": 7200, "shortfall_cents": 500}
        ]  # fmt: skip
        # another tenant sees none of it
        other = env.auth("a_read")
        r = await env.client.get("/v1/workqueues/underpayments", headers=other)
        assert r.json()["items"] == []


async def test_the_contract_in_force_on_the_date_of_service_applies(svc: Service) -> None:
    await submit(svc, "CLAIM-U2", "U2", 30000)
    claim = clp(
        "U2", "1", "300", "144", "36", "PCN-U2",
        *svc_line("99213", "150", "72", "90", "20250210"),  # 90.00 in force in February
        *svc_line("99213", "150", "72", "90", "20250314"),  # 95.00 from March: 5.00 short
    )  # fmt: skip
    await remit(svc, x835("144", "TR-U2", claim), "TR-U2")
    got = [(r["line_number"], r["service_date"], r["expected_cents"]) for r in await underpaid(svc)]
    assert got == [(2, dt.date(2025, 3, 14), 9500)]


async def _version(svc: Service) -> Any:
    assert svc.pool is not None
    return await svc.pool.fetchval("SELECT version FROM contract_tenants WHERE tenant = $1", TENANT)


async def test_reimport_changes_nothing_and_a_changed_rate_or_threshold_reaches_the_next_835(
    svc: Service,
) -> None:
    assert svc.pool is not None
    before = await _version(svc)
    async with svc.pool.acquire() as conn:
        again = await contract_store.import_contracts(conn, TENANT, parse_contracts(CONTRACT))
        fees = await contract_store.import_fee_schedule(
            conn, TENANT, "MPFS", parse_fee_schedule(FEES)
        )
    assert (again.added, again.removed, again.unchanged) == (0, 0, 3)
    assert (fees.added, fees.removed, fees.unchanged) == (0, 0, 2)
    assert await _version(svc) == before  # nothing changed: no cache reloads
    # 99214 allowed 1.00 short: not above the default threshold (1.00)
    await submit(svc, "CLAIM-U3", "U3", 15000)
    short = clp("U3", "1", "150", "103.20", "25.80", "PCN-U3",
                *svc_line("99214", "150", "103.20", "129", "20250314"))  # fmt: skip
    await remit(svc, x835("103.20", "TR-U3", short), "TR-U3")
    loads = CONTRACTS.loads
    await submit(svc, "CLAIM-U4", "U4", 15000)
    await remit(svc, x835("103.20", "TR-U4", short).replace("U3", "U4"), "TR-U4")
    assert CONTRACTS.loads == loads  # the second 835 read its contract from memory
    assert await underpaid(svc) == []
    # the tenant lowers its threshold to 0 and the fee schedule's 99214 goes to 131.00
    async with svc.pool.acquire() as conn:
        await contract_store.set_threshold(conn, TENANT, 0)
        await contract_store.import_fee_schedule(
            conn, TENANT, "MPFS", parse_fee_schedule(FEES.replace("13000", "13100"))
        )
    await submit(svc, "CLAIM-U5", "U5", 15000)
    await remit(svc, x835("103.20", "TR-U5", short).replace("U3", "U5"), "TR-U5")
    assert CONTRACTS.loads == loads + 1
    got = [(r["claim_id"], r["expected_cents"], r["shortfall_cents"]) for r in await underpaid(svc)]
    assert got == [("CLAIM-U5", 13100, 200)]


def test_rcm_contracts_import_names_every_bad_row_and_is_idempotent(
    live_stack: Settings, tmp_path: Path
) -> None:
    tenant = f"contracts-{uuid.uuid4().hex[:6]}"
    fees, good, bad = tmp_path / "fees.csv", tmp_path / "good.csv", tmp_path / "bad.csv"
    fees.write_text(FEES)
    good.write_text(CONTRACT)
    bad.write_text(
        CONTRACT
        + "MCR01,99214,,,2025-01-01,,130.00,,\n"  # dollars, not cents
        + "MCR01,99215,,,2025-01-01,,,MPFS,\n"  # a fee schedule without a percentage
    )

    def run(*args: str) -> Any:
        return runner.invoke(cli.app, ["contracts", *args, "--tenant", tenant])

    r = run("import", str(good))  # the fee schedule is not loaded yet: named, nothing written
    assert r.exit_code == 1
    assert "row 4, column fee_schedule: MPFS is not loaded for this tenant" in r.output
    assert asyncio.run(_rates(live_stack, tenant)) == 0
    assert run("fees", str(fees), "--schedule", "MPFS").exit_code == 0
    r = run("import", str(bad))
    assert r.exit_code == 1
    assert "2 bad row(s), nothing imported" in r.output
    assert "row 5, column allowed_cents: must be whole cents" in r.output
    assert "row 6, column percent: must be a percentage above 0, at most 1000 (got '')" in r.output
    assert asyncio.run(_rates(live_stack, tenant)) == 0
    r = run("import", str(good))
    assert r.exit_code == 0, r.output
    assert f"3 contract rates read for {tenant}: 3 new, 0 removed, 0 unchanged" in r.stdout
    r = run("import", str(good))
    assert "0 new, 0 removed, 3 unchanged" in r.stdout
    assert asyncio.run(_rates(live_stack, tenant)) == 3


async def _rates(s: Settings, tenant: str) -> int:
    conn = await asyncpg.connect(s.database_url)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM remittance.contract_rates WHERE tenant = $1", tenant
            )
        )
    finally:
        await conn.close()
