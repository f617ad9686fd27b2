"""How fast the simulator acknowledges and adjudicates.

    .venv/bin/python scripts/bench_simulator.py [--interchanges 50] [--claims 10]

Pure part: adjudications and 835 text per second. Database part (needs the local
stack; uses a throwaway schema it drops): claim.submitted handling (999 + 277CA for
each interchange) and payer cycles, in claims per second.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
import uuid
from pathlib import Path
from random import Random

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.service import Record, Service
from runtime.settings import settings
from runtime.x12 import Envelope
from schemas.codec import encode, new_meta
from schemas.events import ClaimSubmitted
from services.simulator import app
from services.simulator.adjudicate import adjudicate
from services.simulator.config import RosterSettings, SimulatorSettings
from services.simulator.model import Accumulators, ClaimIn, ClaimLineIn
from services.simulator.payers import MEDICARE_FEES, payer
from services.simulator.samples import Claim837, Line837, build_set, interchange
from services.simulator.timers import PayerCycle
from services.simulator.x12_835 import write_835

CODES = sorted(MEDICARE_FEES)


def pure(n: int) -> None:
    rng = Random(1)
    today = dt.datetime.now(dt.UTC).date()
    claims = []
    for i in range(n):
        lines = tuple(
            ClaimLineIn(k, rng.choice(CODES), rng.randint(2000, 30000), diagnosis_codes=("I10",))
            for k in range(1, rng.randint(1, 4) + 1)
        )
        claims.append(
            ClaimIn(
                patient_control_number=f"P{i}",
                payer_id="PPO01",
                member_id=f"M{i % 97}",
                date_of_service=today - dt.timedelta(days=3),
                lines=lines,
                total_charge_cents=sum(ln.charge_cents for ln in lines),
                diagnoses=("I10",),
                billing_npi="1234567893",
            )
        )
    t0 = time.perf_counter()
    results = [
        adjudicate(c, Accumulators(today.year), today, rng=rng, denial_rate=0.05) for c in claims
    ]
    t1 = time.perf_counter()
    env = Envelope("ZZ", "PPO01", "ZZ", "RCM", "", "", 1, 1)
    for start in range(0, n, 100):
        write_835(results[start : start + 100], plan=payer("PPO01"), envelope=env,
                  payment_date=today, trace_number=f"T{start}")  # fmt: skip
    t2 = time.perf_counter()
    print(f"adjudicate: {n / (t1 - t0):,.0f} claims/s; 835 text (100 claims each): {n / (t2 - t1):,.0f} claims/s")  # fmt: skip


async def database(interchanges: int, per: int) -> None:
    cfg = SimulatorSettings(delay_s=0, denial_rate=0.04)
    svc = Service(
        "simulator",
        schema=f"bench_{uuid.uuid4().hex[:8]}",
        migrations=app.MIGRATIONS,
        http_port=6197,
    )
    pay = PayerCycle(cfg)
    app.wire(svc, cfg, RosterSettings(), cycle=pay)  # its timers are not run: pay is, here
    await svc.start_resources()
    day = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3)).strftime("%Y%m%d")
    records = []
    try:
        for i in range(interchanges):
            claims = [
                Claim837(f"B{i}X{k}", [Line837("99213", "120", date=day)], member=f"M{k}")
                for k in range(per)
            ]
            text = interchange(build_set(claims), icn=10_000 + i)
            for c in claims:
                ev = ClaimSubmitted(
                    claim_id=c.pcn, patient_control_number=c.pcn, payer_id="MCR01",
                    interchange_control_number=f"{10_000 + i:09d}", group_control_number="17",
                    transaction_control_number="0001", frequency_code="1", total_charge_cents=12000,
                    x12=text,
                )  # fmt: skip
                x = encode(ev, new_meta(ev, source="bench", tenant="bench", correlation_id=c.pcn))
                records.append(Record(ClaimSubmitted.TOPIC, 0, len(records), x.key, x.value, x.headers))  # fmt: skip
        t0 = time.perf_counter()
        for start in range(0, len(records), 500):
            await svc.process(ClaimSubmitted.TOPIC, records[start : start + 500])
        t1 = time.perf_counter()
        paid = 0
        while True:
            did = await pay(svc)
            if not did:
                break
            paid += did
        t2 = time.perf_counter()
        n = len(records)
        print(
            f"claim.submitted ({interchanges} interchanges x {per} claims): {n / (t1 - t0):,.0f}"
            f" claims/s acknowledged; payer cycles: {paid / (t2 - t1):,.0f} claims/s adjudicated"
        )
    finally:
        assert svc.pool is not None
        await svc.pool.execute(f"DROP SCHEMA {svc.schema} CASCADE")
        await svc.stop_resources()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--claims", type=int, default=10, help="claims per interchange")
    ap.add_argument("--interchanges", type=int, default=50)
    ap.add_argument("--pure", type=int, default=20_000, help="claims for the pure part")
    args = ap.parse_args()
    settings()
    pure(args.pure)
    asyncio.run(database(args.interchanges, args.claims))


if __name__ == "__main__":
    main()
