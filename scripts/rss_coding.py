"""Peak RSS and startup time of the coding service's work, in one fresh process.

    uv run python scripts/rss_coding.py [--claims 500] [--seed 42]

Does what a coding process does, minus Kafka and PostgreSQL: imports
``services.coding.app``, builds the service object, runs the startup work (the ICD-10-CM
index and release; the bundled NCCI/MUE tables stand in for the schema's), then scrubs
``--claims`` synthetic claims from :func:`rcm.workload.generate_day`. Prints JSON: peak
RSS (``ru_maxrss``) in MB, current RSS, and the seconds each step took.

Run it twice on a fresh clone: the first run includes building the ICD-10-CM cache in
a child process; ``child_peak_rss_mb`` is that child's peak (``ru_maxrss`` of waited-for
children: a forked child counts the parent's pages until it execs, so it reads about the
parent's RSS at import time when nothing was built).
``RCM_CODING_CACHE_DIR=$(mktemp -d)`` forces the cold path.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import time
from pathlib import Path

T0 = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return peak_rss_mb()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--claims", type=int, default=500)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    t = time.perf_counter()
    from services.coding import app, codesets, ncci
    from services.coding.edits.awv_frequency import AWV_CODES
    from services.coding.edits.facts import PriorService
    from services.coding.scrub import scrub

    import_s = time.perf_counter() - t
    rss_imported = rss_mb()

    t = time.perf_counter()
    app.build()  # the faust app and its web routes; nothing is started or bound
    build_s = time.perf_counter() - t

    # The startup hook: the ICD-10-CM index, then the edit tables (bundled here).
    t = time.perf_counter()
    codesets.icd_index()
    release = codesets.icd_release()
    code_sets_s = time.perf_counter() - t
    tables = ncci.bundled_tables()
    startup_s = time.perf_counter() - T0
    rss_started = rss_mb()

    from rcm.workload import assumed_eligible, generate_day

    day = generate_day(args.claims, seed=args.seed)
    t = time.perf_counter()
    held = 0
    for i, enc in enumerate(day[: args.claims]):
        checked = assumed_eligible(enc, f"C{i:015d}")
        awv = any(ln.procedure_code in AWV_CODES for ln in enc.lines)
        history = [PriorService("G0438", dt.date(2024, 2, 1), "C-PRIOR")] if awv else []
        result = scrub(checked, tables, history)
        held += result.TYPE == "rcm.claim.held.v1"
    scrub_s = time.perf_counter() - t

    print(
        json.dumps(
            {
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "child_peak_rss_mb": round(
                    resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
                ),
                "rss_mb_after_import": round(rss_imported, 1),
                "rss_mb_after_startup": round(rss_started, 1),
                "rss_mb_end": round(rss_mb(), 1),
                "startup_seconds": round(startup_s, 3),
                "import_seconds": round(import_s, 3),
                "service_build_seconds": round(build_s, 3),
                "code_sets_seconds": round(code_sets_s, 3),
                "claims": len(day[: args.claims]),
                "held": held,
                "scrub_seconds": round(scrub_s, 3),
                "icd10cm": release.name,
                "simple_icd_10_cm_imported": "simple_icd_10_cm" in sys.modules,
                "python": sys.version.split()[0],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
