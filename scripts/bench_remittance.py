"""Remittance throughput: CLP claims parsed per second, and claims posted per second into
PostgreSQL through the real handler (Service.process, one transaction per batch).

    .venv/bin/python scripts/bench_remittance.py [--claims 20000] [--per-file 500]
    .venv/bin/python scripts/bench_remittance.py --parse-only

Files look like a payer's: per claim CLP, NM1*QC, DTM*232, two or three SVC lines with
DTM*472, REF*6R, CO-45 and PR CAS and AMT*B6. Posting runs in a throw-away schema
(bench_<hex>) on the local stack's PostgreSQL, dropped at the end; claims are made known
first (submitted_claims), so every CLP matches by CLP01 and posts with its ledger,
denials, underpayment checks and claim.adjudicated outbox rows.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import time
import uuid

from runtime.service import Record, Service
from runtime.x12 import Envelope, money, segment, transaction, wrap
from schemas.codec import encode, new_meta
from schemas.events import RemitReceived
from services.remittance import app, handlers
from services.remittance.config import RemittanceSettings
from services.remittance.x12_835.balancing import balance_problems
from services.remittance.x12_835.reader import parse_835

TENANT = "bench"
PAYER = "MCR01"
CODES = (
    ("99213", 9200, 15000),
    ("36415", 300, 1000),
    ("85025", 770, 2500),
    ("99214", 13000, 21000),
)


def make_835(first: int, count: int, trace: str) -> str:
    """``count`` claims numbered from ``first``; balances to the cent."""
    body: list[str] = []
    total = 0
    for n in range(first, first + count):
        lines = []
        charge = paid = pr = 0
        for k in range(2 + n % 2):
            code, fee, chg = CODES[(n + k) % len(CODES)]
            coins = fee // 5 if k == 0 else 0
            line_paid = fee - coins
            charge += chg
            paid += line_paid
            pr += coins
            lines.append(segment("SVC", f"HC:{code}", money(chg), money(line_paid), "", "1"))
            lines.append(segment("DTM", "472", "20250314"))
            lines.append(segment("CAS", "CO", "45", money(chg - fee)))
            if coins:
                lines.append(segment("CAS", "PR", "2", money(coins)))
            lines.append(segment("REF", "6R", f"{n}-{k}"))
            lines.append(segment("AMT", "B6", money(fee)))
        total += paid
        body.append(segment("LX", str(n)))
        body.append(
            segment(
                "CLP",
                f"B{n:09d}",
                "1",
                money(charge),
                money(paid),
                money(pr),
                "MB",
                f"PCN{n:012d}",
                "11",
                "1",
            )
        )
        body.append(segment("NM1", "QC", "1", "DOE", "JAMIE", "", "", "", "MI", f"M{n}"))
        body.append(segment("DTM", "232", "20250314"))
        body.extend(lines)
    head = [
        segment(
            "BPR",
            "I",
            money(total),
            "C",
            "ACH",
            "CCP",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "20250401",
        ),
        segment("TRN", "1", trace, "1512345678"),
        segment("N1", "PR", "MEDICARE PART B SIM"),
        segment("REF", "2U", PAYER),
        segment("N1", "PE", "CLINIC", "XX", "1234567893"),
    ]
    env = Envelope("ZZ", PAYER, "ZZ", "CLINIC", "HP", "005010X221A1", first % 10**9, 1,
                   at=dt.datetime(2025, 4, 1, tzinfo=dt.UTC))  # fmt: skip
    return wrap(env, [transaction("835", "0001", [*head, *body])])


def bench_parse(files: list[str], rounds: int = 5) -> tuple[int, float, float]:
    claims = sum(len(parse_835(t).claims) for t in files)
    best_parse = best_both = 0.0
    for _ in range(rounds):
        gc.collect()
        t0 = time.perf_counter()
        rems = [parse_835(t) for t in files]
        t1 = time.perf_counter()
        for r in rems:
            assert not balance_problems(r)
        t2 = time.perf_counter()
        best_parse = max(best_parse, claims / (t1 - t0))
        best_both = max(best_both, claims / (t2 - t0))
    return claims, best_parse, best_both


async def bench_post(files: list[str], claims: int) -> float:
    svc = Service(
        "remittance-bench",
        schema=f"bench_{uuid.uuid4().hex[:8]}",
        migrations=app.MIGRATIONS,
        http_port=6197,
    )
    svc.on(RemitReceived, handlers.on_remit)
    await svc.start_resources()
    assert svc.pool is not None
    try:
        await app.load_contracts(svc, RemittanceSettings())
        async with svc.pool.acquire() as conn:
            await conn.copy_records_to_table(
                "submitted_claims",
                records=[
                    (TENANT, f"B{n:09d}", f"CLAIM-{n}", PAYER, "1", 0, None, None)
                    for n in range(claims)
                ],
                columns=(
                    "tenant",
                    "patient_control_number",
                    "claim_id",
                    "payer_id",
                    "frequency_code",
                    "total_charge_cents",
                    "patient_key",
                    "service_date",
                ),
            )
        records = []
        for k, text in enumerate(files):
            ev = RemitReceived(trace_number=f"T{k}", payer_id=PAYER, source="bench", x12=text)
            x = encode(ev, new_meta(ev, source="bench", tenant=TENANT, correlation_id=f"T{k}"))
            records.append(Record(ev.TOPIC, 0, k, x.key, x.value, x.headers))
        t0 = time.perf_counter()
        for rec in records:  # one 835 per batch, as they arrive
            await svc.process(RemitReceived.TOPIC, [rec])
        elapsed = time.perf_counter() - t0
        posted = await svc.pool.fetchval("SELECT count(*) FROM claim_postings")
        events = await svc.pool.fetchval(
            "SELECT count(*) FROM outbox WHERE topic = 'claim.adjudicated'"
        )
        assert posted == claims == events, (posted, claims, events)
        return claims / elapsed
    finally:
        await svc.pool.execute(f"DROP SCHEMA {svc.schema} CASCADE")
        await svc.stop_resources()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--claims", type=int, default=20000)
    ap.add_argument("--per-file", type=int, default=500)
    ap.add_argument("--parse-only", action="store_true")
    args = ap.parse_args()
    files = [
        make_835(first, min(args.per_file, args.claims - first), f"T{first}")
        for first in range(0, args.claims, args.per_file)
    ]
    claims, parse_rate, both_rate = bench_parse(files)
    print(f"parse_835: {claims} CLP claims in {len(files)} files: {parse_rate:,.0f} claims/s")
    print(f"parse_835 + balance_problems: {both_rate:,.0f} claims/s")
    if not args.parse_only:
        rate = asyncio.run(bench_post(files, claims))
        print(f"posted into PostgreSQL (Service.process, one 835 per batch): {rate:,.0f} claims/s")


if __name__ == "__main__":
    main()
