"""How fast statements render, and how fast the handlers post and bill on PostgreSQL.

    .venv/bin/python scripts/bench_statements.py --render 300
    .venv/bin/python scripts/bench_statements.py --render 300 --db 1000

``--db N`` runs N encounters and N adjudications (each with a patient share, so N
statements) through ``Service.process`` in batches of 500, in a throwaway schema of
the local stack's PostgreSQL, then drops it. No service process is started.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import resource
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.service import Record, Service
from schemas.codec import encode, new_meta
from schemas.common import (
    Address,
    Adjustment,
    Coverage,
    Documentation,
    Person,
    Provider,
    ServiceLine,
    Sex,
    VisitType,
)
from schemas.events import AdjudicationStatus, ClaimAdjudicated, EncounterCreated, Event
from schemas.ids import claim_id_for
from services.statements import app, domain, render
from services.statements.config import StatementSettings
from services.statements.practice import practice_for

TENANT = "bench"


BILLING = {
    "name": "BENCH FAMILY PRACTICE",
    "address": {"line1": "1 MAIN ST", "city": "ANYTOWN", "state": "VT", "postal_code": "05601"},
}


def sample_document(claims: int = 3) -> dict[str, object]:
    today = dt.date(2025, 4, 1)
    return domain.build_statement(
        statement_id="S-BENCH-1",
        today=today,
        due_days=30,
        collections_after_days=120,
        practice=practice_for(None, StatementSettings().deployment_practice(), BILLING),
        guarantor={"account": "G1", "name": "Pat Doe", "address": {}},
        claims=[
            domain.ClaimOnStatement(
                claim_id=f"C{n}",
                patient_name="Sam Doe",
                date_of_service=today - dt.timedelta(days=10 * n),
                lines=[
                    {"code": "99214", "modifiers": ["25"], "units": 1, "charge_cents": 18000},
                    {"code": "J3420", "modifiers": [], "units": 1, "charge_cents": 4500},
                    {"code": "G0008", "modifiers": [], "units": 1, "charge_cents": 2500},
                ],
                postings=[("charge", 25000), ("insurance_payment", -16000), ("contractual", -5000)],
                first_billed_on=today - dt.timedelta(days=20 * n),
            )
            for n in range(claims)
        ],
        unapplied=[],
    )


def bench_render(n: int) -> None:
    doc = sample_document()
    t0 = time.perf_counter()
    size = 0
    for _ in range(n):
        size = len(render.to_pdf(doc))
    pdf_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(n):
        render.to_html(doc)
    html_s = time.perf_counter() - t0
    print(
        f"render: {n} statements (3 visits each): PDF {n / pdf_s:.0f}/s "
        f"({1000 * pdf_s / n:.2f} ms each, {size} bytes), HTML {n / html_s:.0f}/s"
    )


def _encounter(i: int) -> EncounterCreated:
    """Visit ``i`` of guarantor ``G{i}``: one 99213 at $150.00, one PPO coverage."""
    address = Address(line1="100 MAIN ST", city="SPRINGFIELD", state="IL", postal_code="62701")
    return EncounterCreated(
        encounter_id=f"B-{i}",
        patient=Person(
            id=f"G{i}",
            first_name="Alex",
            last_name="Rivera",
            birth_date=dt.date(1980, 5, 17),
            sex=Sex.female,
            address=address,
        ),
        coverages=[
            Coverage(
                payer_id="PPO01",
                payer_name="BLUE MEADOW PPO",
                member_id="XYZ123456789",
                group_number="GRP001",
                plan="PPO",
                effective_date=dt.date(2025, 1, 1),
            )
        ],
        rendering_provider=Provider(
            npi="1987654328", name="Chen", first_name="Dana", taxonomy="207Q00000X"
        ),
        billing_provider=Provider(
            npi="1234567893",
            name="Example Family Practice",
            tax_id="123456789",
            taxonomy="207Q00000X",
            address=address.model_copy(
                update={"line1": "500 CLINIC WAY", "postal_code": "627010001"}
            ),
        ),
        place_of_service="11",
        date_of_service=dt.date(2025, 3, 14),
        diagnoses=["J02.9"],
        lines=[ServiceLine(procedure_code="99213", charge_cents=15000, diagnosis_codes=["J02.9"])],
        documentation=Documentation(visit_type=VisitType.problem, mdm_level="low"),
    )


def _record(event: Event, offset: int) -> Record:
    x = encode(event, new_meta(event, source="bench", tenant=TENANT, correlation_id="bench"))
    return Record(event.TOPIC, 0, offset, x.key, x.value, x.headers)


async def bench_db(n: int) -> None:
    svc = Service(
        "statements-bench",
        schema=f"bench_{uuid.uuid4().hex[:8]}",
        migrations=app.MIGRATIONS,
        http_port=6197,
    )
    app.register(svc, StatementSettings())
    await svc.start_resources()
    try:
        encs, adjs = [], []
        for i in range(n):
            enc = _encounter(i)
            cid = claim_id_for(TENANT, enc.encounter_id)
            encs.append(_record(enc, i))
            adjs.append(
                _record(
                    ClaimAdjudicated(
                        claim_id=cid,
                        patient_control_number=cid,
                        payer_id="PPO01",
                        trace_number=f"T{i}",
                        status=AdjudicationStatus.partially_paid,
                        claim_status_code="1",
                        charge_cents=15000,
                        paid_cents=9000,
                        patient_responsibility_cents=2500,
                        adjustments=[
                            Adjustment(group="CO", reason="45", amount_cents=3500),
                            Adjustment(group="PR", reason="2", amount_cents=2500),
                        ],
                    ),
                    i,
                )
            )
        t0 = time.perf_counter()
        for k in range(0, n, 500):
            await svc.process("encounter.created", encs[k : k + 500])
        t_enc = time.perf_counter() - t0
        t0 = time.perf_counter()
        for k in range(0, n, 500):
            await svc.process("claim.adjudicated", adjs[k : k + 500])
        t_adj = time.perf_counter() - t0
        assert svc.pool is not None
        issued = await svc.pool.fetchval("SELECT count(*) FROM statements")
        print(
            f"db: {n} encounters {n / t_enc:.0f}/s; {n} adjudications posted and "
            f"{issued} statements issued {n / t_adj:.0f}/s"
        )
    finally:
        assert svc.pool is not None
        await svc.pool.execute(f"DROP SCHEMA {svc.schema} CASCADE")
        await svc.stop_resources()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--render", type=int, default=200)
    p.add_argument("--db", type=int, default=0)
    a = p.parse_args()
    if a.render:
        bench_render(a.render)
    if a.db:
        asyncio.run(bench_db(a.db))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
