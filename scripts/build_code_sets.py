"""Build the bundled dated code sets from the files as published.

    python scripts/build_code_sets.py \\
        --icd 2024-10-01=code-list-April-2025.txt --icd 2025-10-01=code-list-April-2026.txt \\
        --icd-addenda 2026-10-01=icd10cm_order_addenda_2027.txt \\
        --hcpcs-json hcpcs-data.json

Each ``--icd START=FILE`` is one ICD-10-CM release (a code list or CMS's order file) and
the date its fiscal year began. Each ``--icd-addenda START=FILE`` is CMS's order addenda
of the next fiscal year (``icd10cm_order_addenda_YYYY.txt``), applied to the latest
release given: the release it starts from must be the one the addenda were written
against (their own counts are checked). ``--hcpcs`` is CMS's alpha-numeric HCPCS file
(``HCPCYYYY_..._ANWEB.txt``); ``--hcpcs-json`` a JSON transcription of it (a ``version``,
a ``source`` and ``codes``: ``code``, ``shortDesc``, ``addDate``, ``termDate`` as
YYYYMMDD). Writes ``services/coding/data/icd10cm_dates.csv.gz`` and
``hcpcs_dates.csv.gz`` (see :mod:`services.coding.code_dates`);
``services/coding/data/README.md`` names the files used for the bundled sets.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.coding import code_dates as cd
from services.coding.ncci import LayoutError


def _release(arg: str) -> tuple[dt.date, Path]:
    start, _, file = arg.partition("=")
    return dt.date.fromisoformat(start), Path(file)


def icd_releases(full: list[str], addenda: list[str]) -> list[tuple[dt.date, str, frozenset[str]]]:
    """(start, file name, billable codes) per release, oldest first."""
    loaded = [
        (start, f.name, cd.read_icd_release(f.read_text("latin-1")))
        for start, f in sorted(_release(a) for a in full)
    ]
    for start, f in sorted(_release(a) for a in addenda):
        if not loaded or loaded[-1][0] >= start:
            raise SystemExit(f"{f.name}: addenda need an earlier full release to start from")
        try:
            codes = cd.apply_order_addenda(loaded[-1][2], f.read_text("latin-1"))
        except LayoutError as e:
            raise SystemExit(f"{f.name}: {e}") from None
        loaded.append((start, f"{loaded[-1][1]} + {f.name}", codes))
    return loaded


def build_icd(full: list[str], addenda: list[str], out: Path) -> int:
    releases = icd_releases(full, addenda)
    ranges = cd.icd_ranges([(start, codes) for start, _, codes in releases])
    named = [
        cd.Release(f"ICD-10-CM FY{start.year + 1} ({name})", start, dt.date(start.year + 1, 9, 30))
        for start, name, _ in releases
    ]
    rows = [
        [code, s.isoformat() if s else "", e.isoformat() if e else ""]
        for code in sorted(ranges)
        for s, e in ranges[code]
    ]
    lists = ", ".join(_release(a)[1].name for a in full)
    source = f"CMS ICD-10-CM code lists as shipped by simple-icd-10-cm (PyPI): {lists}"
    if addenda:
        source += "; then CMS's order addenda " + ", ".join(_release(a)[1].name for a in addenda)
    cd.write_dates(out, named, source, rows)
    return len(ranges)


def read_hcpcs_json(path: Path) -> tuple[list[cd.HcpcsRow], str]:
    """The rows of a JSON transcription of CMS's alpha-numeric file, and its version."""
    doc = json.loads(path.read_text())
    rows = []
    for i, c in enumerate(doc["codes"]):
        code = c["code"]
        if len(code) != 5 or not code[0].isalpha() or not code[1:].isdigit():
            raise SystemExit(f"{path.name}: entry {i}: {code!r} is not a HCPCS Level II code")
        rows.append(
            cd.HcpcsRow(
                code,
                cd._date(c.get("addDate", ""), i, "addDate"),
                cd._date(c.get("termDate", ""), i, "termDate"),
                c.get("shortDesc", "").strip(),
            )
        )
    return rows, f"{doc.get('source', '')} ({doc.get('version', '')})"


def build_hcpcs(rows: list[cd.HcpcsRow], name: str, source: str, out: Path) -> int:
    first = min(r.effective for r in rows if r.effective)
    cd.write_dates(
        out,
        [cd.Release(f"HCPCS Level II ({name})", first, None)],
        source,
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
    ap = argparse.ArgumentParser(prog="python scripts/build_code_sets.py")
    ap.add_argument("--icd", action="append", default=[], help="START=FILE, one per release")
    ap.add_argument("--icd-addenda", action="append", default=[], help="START=ADDENDA_FILE")
    ap.add_argument("--hcpcs", type=Path, default=None, help="CMS's HCPCYYYY_..._ANWEB.txt")
    ap.add_argument("--hcpcs-json", type=Path, default=None, help="a JSON transcription of it")
    args = ap.parse_args(argv)
    if args.icd:
        print("icd10cm codes:", build_icd(args.icd, args.icd_addenda, cd.ICD_FILE))
    if args.hcpcs:
        rows = cd.read_hcpcs_file(cd.read_cms_text(args.hcpcs))
        source = f"CMS alpha-numeric HCPCS file {args.hcpcs.name}"
        print("hcpcs codes:", build_hcpcs(rows, args.hcpcs.name, source, cd.HCPCS_FILE))
    elif args.hcpcs_json:
        rows, version = read_hcpcs_json(args.hcpcs_json)
        source = f"CMS alpha-numeric HCPCS file as transcribed in {args.hcpcs_json.name}: {version}"
        print("hcpcs codes:", build_hcpcs(rows, args.hcpcs_json.name, source, cd.HCPCS_FILE))


if __name__ == "__main__":
    main()
