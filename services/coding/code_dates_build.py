"""Build the bundled dated code sets from the files as published.

    python -m services.coding.code_dates_build \\
        --icd 2024-10-01=code-list-April-2025.txt --icd 2025-10-01=code-list-April-2026.txt \\
        --hcpcs HCPC2020_ANWEB_w_disclaimer.txt

Each ``--icd START=FILE`` is one ICD-10-CM release and the date its fiscal year began;
``--hcpcs`` is CMS's alpha-numeric HCPCS file. Writes ``data/icd10cm_dates.csv.gz`` and
``data/hcpcs_dates.csv.gz`` (see :mod:`services.coding.code_dates`).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from services.coding import code_dates as cd


def _release(arg: str) -> tuple[dt.date, Path]:
    start, _, file = arg.partition("=")
    return dt.date.fromisoformat(start), Path(file)


def build_icd(args: list[str], out: Path) -> int:
    releases = sorted(_release(a) for a in args)
    loaded = [(start, cd.read_icd_release(f.read_text("latin-1"))) for start, f in releases]
    ranges = cd.icd_ranges(loaded)
    named = [
        cd.Release(
            f"ICD-10-CM FY{start.year + 1} ({file.name})",
            start,
            dt.date(start.year + 1, 9, 30),
        )
        for start, file in releases
    ]
    rows = [
        [code, s.isoformat() if s else "", e.isoformat() if e else ""]
        for code in sorted(ranges)
        for s, e in ranges[code]
    ]
    source = "CMS ICD-10-CM code lists as shipped by simple-icd-10-cm (PyPI): " + ", ".join(
        f.name for _, f in releases
    )
    cd.write_dates(out, named, source, rows)
    return len(ranges)


def build_hcpcs(file: Path, out: Path) -> int:
    rows = cd.read_hcpcs_file(file.read_text("latin-1"))
    first = min(r.effective for r in rows if r.effective)
    release = cd.Release(f"HCPCS Level II ({file.name})", first, None)
    cd.write_dates(
        out,
        [release],
        f"CMS alpha-numeric HCPCS file {file.name}",
        [
            [
                r.code,
                r.effective.isoformat() if r.effective else "",
                r.termination.isoformat() if r.termination else "",
                r.short_description,
            ]
            for r in sorted(rows, key=lambda r: r.code)
        ],
    )
    return len(rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m services.coding.code_dates_build")
    ap.add_argument("--icd", action="append", default=[], help="START=FILE, one per release")
    ap.add_argument("--hcpcs", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.icd:
        print("icd10cm codes:", build_icd(args.icd, cd.ICD_FILE))
    if args.hcpcs:
        print("hcpcs codes:", build_hcpcs(args.hcpcs, cd.HCPCS_FILE))


if __name__ == "__main__":
    main()
