"""The coding stage's claims/s with full-size NCCI PTP and MUE tables (issue 30, part 6).

    .venv/bin/python scripts/coding_full_tables.py [--ptp-rows 2000000] [--claims 6000]

Writes practitioner PTP files (f1-f4) and an MUE table in CMS's published layouts (the
AMA notice, the header rows, Windows-1252), sized like the full quarterly release: the
project's family-medicine pairs plus synthetic pairs over ~12,000 CPT/HCPCS numbers
(CMS's own files are not reachable offline). Loads them with the real loaders
(`rcm code load-ncci` / `load-mue`, into the schema ``--schema`` on the configured
PostgreSQL), reads them back as the coding service does (``load_edit_tables``) and
scrubs the demo workload's claims with the bundled subset and with the full tables,
alternating, best of three each. Prints JSON. Not ``rcm bench``: one process, no Kafka.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rcm.workload import assumed_eligible, generate_day
from runtime.db import create_pool
from runtime.settings import settings
from scripts.bench_coding import rss_mb
from services.coding import ncci, repository
from services.coding.edits.awv_frequency import AWV_CODES
from services.coding.edits.facts import PriorService
from services.coding.scrub import scrub

NOTICE = (
    "CPT codes, descriptions and other data only are copyright 2025 American Medical "
    "Association. All rights reserved. CPT\N{REGISTERED SIGN} is a registered trademark "
    "of the American Medical Association."
)
PTP_HEADER = (
    "Column 1\tColumn 2\t*=in existence prior to 1996\tEffective Date\t"
    "Deletion Date *=no data\tModifier 0=not allowed 1=allowed 9=not applicable\t"
    "PTP Edit Rationale"
)
RATIONALES = (
    "Standards of medical / surgical practice",
    "Mutually exclusive procedures",
    "CPT Manual or CMS manual coding instructions",
    "Misuse of column two code with column one code",
)


def code_pool() -> list[str]:
    """About 12,000 procedure numbers across CPT's sections and HCPCS Level II."""
    pool = [f"{n:05d}" for n in range(10021, 99607, 8)]
    pool += [f"{letter}{n:04d}" for letter in "AGJ" for n in range(0, 9999, 7)]
    return pool


def write_files(out: Path, rows: int) -> tuple[list[Path], Path]:
    out.mkdir(parents=True, exist_ok=True)
    bundled = ncci.bundled_ptp()
    taken = {(e.column1, e.column2) for e in bundled}
    lines = [
        f"{e.column1}\t{e.column2}\t{'*' if e.prior_1996 else ''}\t{e.effective:%Y%m%d}\t"
        f"{f'{e.deletion:%Y%m%d}' if e.deletion else '*'}\t{e.modifier_indicator}\t{e.rationale}"
        for e in bundled
    ]
    pool = code_pool()
    per = rows // len(pool) + 1
    for a, c1 in enumerate(pool):
        for k in range(per):
            if len(lines) >= rows:
                break
            c2 = pool[(a + 1 + k) % len(pool)]
            if (c1, c2) in taken:
                continue
            deleted = "*" if k % 3 else f"{2016 + k % 9}0101"
            lines.append(
                f"{c1}\t{c2}\t{'*' if k % 5 == 0 else ''}\t{2000 + k % 16}0101\t{deleted}\t"
                f"{(0, 1, 9)[k % 3]}\t{RATIONALES[k % 4]}"
            )
    files = []
    quarter = (len(lines) + 3) // 4
    for i in range(4):
        f = out / f"ccipra-v321r0-f{i + 1}.txt"
        body = "\r\n".join([NOTICE, PTP_HEADER, "\t" * 6, *lines[i * quarter : (i + 1) * quarter]])
        f.write_bytes(body.encode("cp1252"))
        files.append(f)
    mue_rows = ['"HCPCS/CPT Code","Practitioner Services MUE Values",'
                '"MUE Adjudication Indicator","MUE Rationale"']  # fmt: skip
    have = set()
    for e in ncci.bundled_mue():
        have.add(e.code)
        mue_rows.append(f'"{e.code}","{e.value}","{e.mai} Line Edit","{e.rationale}"')
    for n, code in enumerate(pool):
        if code not in have:
            mue_rows.append(f'"{code}","{1 + n % 4}","{1 + n % 3} Line Edit","Clinical: Data"')
    mue = out / "MCR_MUE_PractitionerServices_Eff_01-01-2026.csv"
    mue.write_bytes("\r\n".join([f'"{NOTICE}"', *mue_rows]).encode("cp1252"))
    return files, mue


def peak_mb() -> float:
    """The process's peak RSS so far (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cli(*args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rcm.cli", "code", *args], check=True)
    return time.perf_counter() - t0


async def read_back(schema: str) -> tuple[ncci.EditTables, float]:
    pool = await create_pool(settings(), schema, max_size=1)
    try:
        async with pool.acquire() as conn:
            t0 = time.perf_counter()
            tables = await repository.load_edit_tables(conn)
            return tables, time.perf_counter() - t0
    finally:
        await pool.close()


async def drop(schema: str) -> None:
    pool = await create_pool(settings(), "public", max_size=1)
    try:
        await pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await pool.close()


def rate(claims: list[Any], tables: ncci.EditTables, n: int) -> tuple[float, int]:
    held = 0
    t0 = time.perf_counter()
    for i in range(n):
        checked, history = claims[i % len(claims)]
        held += scrub(checked, tables, history).TYPE == "rcm.claim.held.v1"
    return n / (time.perf_counter() - t0), held


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptp-rows", type=int, default=2_000_000)
    ap.add_argument("--claims", type=int, default=6000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/rcm-full-ncci"))
    ap.add_argument("--schema", default="coding_full_tables")
    args = ap.parse_args()

    files, mue = write_files(args.dir, args.ptp_rows)
    load_ptp_s = cli("load-ncci", *map(str, files), "--schema", args.schema)
    load_mue_s = cli("load-mue", str(mue), "--effective", "2026-01-01", "--schema", args.schema)
    base = rss_mb()
    full, read_s = asyncio.run(read_back(args.schema))
    peak = peak_mb()
    gc.collect()
    with_tables = rss_mb()

    claims = []
    for i, enc in enumerate(generate_day(2000, seed=42)):
        awv = any(ln.procedure_code in AWV_CODES for ln in enc.lines)
        history = [PriorService("G0438", dt.date(2024, 2, 1), "C-PRIOR")] if awv else []
        claims.append((assumed_eligible(enc, f"C{i:015d}"), history))
    subset = ncci.bundled_tables()
    rate(claims, subset, 500)  # warm the code sets
    runs: dict[str, list[float]] = {"subset": [], "full": []}
    held: dict[str, int] = {}
    for _ in range(3):
        for name, tables in (("subset", subset), ("full", full)):
            r, held[name] = rate(claims, tables, args.claims)
            runs[name].append(round(r))
    asyncio.run(drop(args.schema))
    print(
        json.dumps(
            {
                "ptp_rows": full.ptp.rows,
                "mue_rows": sum(len(v) for v in full.mue.values()),
                "load_ncci_seconds": round(load_ptp_s, 1),
                "load_mue_seconds": round(load_mue_s, 1),
                "read_back_seconds": round(read_s, 1),
                "rss_mb_before_read_back": round(base, 1),
                "rss_mb_tables": round(with_tables - base, 1),
                "rss_mb_peak_during_read_back": round(peak, 1),
                "claims_per_run": args.claims,
                "claims_per_second_subset": runs["subset"],
                "claims_per_second_full": runs["full"],
                "held_subset": held["subset"],
                "held_full": held["full"],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
