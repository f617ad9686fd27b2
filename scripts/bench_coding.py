"""Claims scrubbed per second in one process, and RSS with every code set loaded.

    .venv/bin/python scripts/bench_coding.py [--claims 20000] [--ptp-rows 0]

Loads ICD-10-CM (simple-icd-10-cm), HCPCS Level II, the CPT numbers and the bundled
NCCI PTP/MUE subset; ``--ptp-rows N`` adds N synthetic PTP pairs to size memory as
with CMS's full practitioner tables. Scrubs the demo workload's encounters (every
edit runs, the bundled tables applied, wellness-visit history passed for the claims
that need it) and prints JSON figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rcm.workload import assumed_eligible, generate_day
from services.coding import codesets, ncci
from services.coding.edits.awv_frequency import AWV_CODES
from services.coding.edits.facts import PriorService
from services.coding.scrub import scrub


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic_ptp(n: int) -> list[ncci.PtpEdit]:
    eff = dt.date(2015, 1, 1)
    out = []
    for i in range(n):
        c1 = f"{10000 + i % 80000:05d}"
        c2 = f"{10000 + (i * 7919) % 80000:05d}"
        out.append(ncci.PtpEdit(c1, c2, False, eff, None, i % 2, "Standards of medical"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--claims", type=int, default=20000)
    ap.add_argument("--ptp-rows", type=int, default=0)
    args = ap.parse_args()

    base = rss_mb()
    t0 = time.perf_counter()
    codesets.icd_index()
    codesets.icd_release()
    load_s = time.perf_counter() - t0
    tables = ncci.bundled_tables()
    if args.ptp_rows:
        tables = ncci.EditTables.build(
            [*ncci.bundled_ptp(), *synthetic_ptp(args.ptp_rows)],
            ncci.bundled_mue(),
            version="bundled+synthetic",
        )
    gc.collect()
    loaded = rss_mb()

    day = generate_day(2000, seed=42)
    claims = []
    for i, enc in enumerate(day):
        checked = assumed_eligible(enc, f"C{i:015d}")
        awv = any(ln.procedure_code in AWV_CODES for ln in enc.lines)
        history = [PriorService("G0438", dt.date(2024, 2, 1), "C-PRIOR")] if awv else []
        claims.append((checked, history))

    held = 0
    t1 = time.perf_counter()
    for n in range(args.claims):
        checked, history = claims[n % len(claims)]
        result = scrub(checked, tables, history)
        held += result.TYPE == "rcm.claim.held.v1"
    elapsed = time.perf_counter() - t1

    print(
        json.dumps(
            {
                "claims": args.claims,
                "seconds": round(elapsed, 3),
                "claims_per_second": round(args.claims / elapsed),
                "held": held,
                "icd10cm": codesets.icd_release().name,
                "code_set_load_seconds": round(load_s, 2),
                "ptp_rows": tables.ptp.rows,
                "mue_rows": sum(len(v) for v in tables.mue.values()),
                "rss_mb_start": round(base, 1),
                "rss_mb_code_sets_loaded": round(loaded, 1),
                "rss_mb_end": round(rss_mb(), 1),
                "python": sys.version.split()[0],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
