"""The claim page shows the 837P the claim went out in and the 835 that paid it as a
person reads them (lines, codes, paid, adjustments with CARC and RARC in words), the raw
files one click away, audited with every claim in the file; another tenant gets 404 for
the page and the files. The claims and remittance rooms' tables hold what their services
write (a real 837P from the claims room's writer)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from runtime.db import create_pool, migrate
from runtime.settings import REPO_ROOT, Settings
from runtime.x12 import Envelope, segment, transaction, wrap
from services.claims.x12_837 import Outgoing
from tests.integration.app_world import app_env, audit_rows, browser, sign_in
from tests.integration.gateway_env import Env, add_claim
from tests.unit import factories as f
from tests.unit.test_x12_837 import render

pytestmark = pytest.mark.integration
CLAIM = "C-FILES-1"
NEIGHBOUR = "C-FILES-2"
X835 = wrap(
    Envelope("ZZ", "PPO01", "ZZ", "SUBMITTER01", "HP", "005010X221A1", 77, 77),
    [
        transaction(
            "835",
            "0001",
            [
                segment("CLP", CLAIM, "2", "200", "120", "30", "12", "PAYER77"),
                segment("CLP", NEIGHBOUR, "1", "100", "80", "0", "12", "PAYER78"),
            ],
        )
    ],
)


@pytest.fixture
async def env(live_stack: Settings) -> AsyncIterator[Env]:
    async with app_env(live_stack) as e:
        await add_claim(e, "tenant-a", CLAIM, "PAID", total_charge_cents=20000)
        mine = f.claim(1, claim_id=CLAIM, patient_control_number=CLAIM, diagnoses=["J02.9"],
                       lines=[f.line(1, modifiers=["25"]), f.line(2, procedure_code="87880",
                                                              charge_cents=5000)])  # fmt: skip
        other = f.claim(2, claim_id=NEIGHBOUR, patient_control_number=NEIGHBOUR)
        x12 = render(Outgoing(mine), Outgoing(other))
        await e.claims.execute(
            "INSERT INTO interchanges(interchange_control_number, group_control_number, tenant,"
            " payer_id, claim_ids, x12) VALUES (42, 7, 'tenant-a', 'PPO01', $1, $2)",
            [CLAIM, NEIGHBOUR],
            x12,
        )
        await e.claims.execute(
            "INSERT INTO submissions(claim_id, patient_control_number, frequency_code,"
            " interchange_control_number) VALUES ($1, $1, '1', 42)",
            CLAIM,
        )
        schema = e.g.remittance_schema
        pool = await create_pool(live_stack, schema, max_size=1)
        try:
            await migrate(pool, schema, REPO_ROOT / "services" / "remittance" / "migrations")
            await post_835(pool)
            yield e
        finally:
            await pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            await pool.close()


async def post_835(pool: object) -> None:
    remit = await pool.fetchval(  # type: ignore[attr-defined]
        "INSERT INTO remits(tenant, payer_id, trace_number, source, status, problems, x12)"
        " VALUES ('tenant-a', 'PPO01', 'TRN77', 'test', 'posted', '[]', $1) RETURNING id",
        X835,
    )
    posting = await pool.fetchval(  # type: ignore[attr-defined]
        "INSERT INTO claim_postings(remit_id, tenant, payer_id, trace_number, claim_id,"
        " patient_control_number, payer_claim_number, status_code, adjudication_status,"
        " charge_cents, paid_cents, patient_responsibility_cents) VALUES ($1, 'tenant-a',"
        " 'PPO01', 'TRN77', $2, $2, 'PAYER77', '1', 'partially_paid', 20000, 12000, 3000)"
        " RETURNING id",
        remit,
        CLAIM,
    )
    for line, proc, group, reason, cents, category in (
        (1, "99213", "CO", "45", 5000, "contractual"),
        (1, "99213", "PR", "2", 3000, "coinsurance"),
    ):
        await pool.execute(  # type: ignore[attr-defined]
            "INSERT INTO ledger_lines(posting_id, claim_id, line_number, procedure, kind,"
            " cas_group, reason, amount_cents, category)"
            " VALUES ($1, $2, $3, $4, 'adjustment', $5, $6, $7, $8)",
            posting, CLAIM, line, proc, group, reason, cents, category,
        )  # fmt: skip
    await pool.execute(  # type: ignore[attr-defined]
        "INSERT INTO denials(posting_id, tenant, claim_id, payer_id, line_number, procedure,"
        " cas_group, reason, amount_cents, category, remarks) VALUES ($1, 'tenant-a', $2,"
        " 'PPO01', 1, '99213', 'CO', '45', 5000, 'write_off', '{N130}')",
        posting,
        CLAIM,
    )


def words(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_the_claim_page_reads_the_837_and_835_and_links_the_raw_files(env: Env) -> None:
    async with browser(env) as b:
        await sign_in(b, "biller@a.example")
        page = await b.get(f"/app/claims/{CLAIM}")
        assert page.status_code == 200
        text = words(page.text)
        assert "original claim to" in text
        assert "Diagnoses: J02.9." in text
        assert re.search(r"99213 25 1 \$\S+ .*87880 1 \$50\.00", text), text
        assert re.search(r"paid \$120\.00\s*, the patient's share \$30\.00", text), text
        assert re.search(
            r"CO-45 contractual obligation: above the fee schedule N130: consult plan benefit"
            r" documents for coverage \$50\.00",
            text,
        ), text
        assert "PR-2 patient responsibility: coinsurance $30.00" in text
        raw = await b.get(f"/app/claims/{CLAIM}/files/837/42")
        assert raw.status_code == 200
        assert raw.text.startswith("ISA*")
        assert f"CLM*{CLAIM}*" in raw.text
        remit = re.search(rf"/app/claims/{CLAIM}/files/835/(\d+)", page.text)
        assert remit
        raw835 = await b.get(remit.group(0))
        assert raw835.text == X835
        assert (await b.get(f"/app/claims/{CLAIM}/files/837/43")).status_code == 404
    rows = await audit_rows(env, f"user:{env.tokens['biller@a.example']}")
    files = [r for r in rows if r["action"] == "app.x12_file" and r["outcome"] == "ok"]
    assert [sorted(r["claim_ids"]) for r in files] == [[CLAIM, NEIGHBOUR], [CLAIM, NEIGHBOUR]]

    async with browser(env) as other:
        await sign_in(other, "biller@b.example")
        assert (await other.get(f"/app/claims/{CLAIM}")).status_code == 404
        assert (await other.get(f"/app/claims/{CLAIM}/files/837/42")).status_code == 404
        assert (await other.get(remit.group(0))).status_code == 404
