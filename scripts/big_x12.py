"""Writes a large, valid, balanced 835 or 271 for measuring the readers' time and memory
(docs/performance.md): ``python scripts/big_x12.py 835 50 /tmp/big.835`` writes about
50 MB. The files are generated, never checked in."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path

from runtime.x12 import Envelope, segment, wrap

AT = dt.datetime(2025, 4, 1, 8, 0, tzinfo=dt.UTC)


def _claim(k: int) -> list[str]:
    """A paid claim of three lines: 190.00 charged, 125.00 paid, every cent adjusted."""
    pcn = f"PCN{k:09d}"
    return [
        segment("CLP", pcn, "1", "190", "125", "65", "12", f"PAYER{k:012d}", "11", "1"),
        segment("NM1", "QC", "1", "DOE", "JANE", "", "", "", "MI", f"M{k:09d}"),
        segment("SVC", "HC:99214", "150", "125", "", "1"),
        segment("DTM", "472", "20250303"),
        segment("CAS", "PR", "3", "25"),
        segment("AMT", "B6", "150"),
        segment("SVC", "HC:83036", "30", "0", "", "1"),
        segment("DTM", "472", "20250303"),
        segment("CAS", "CO", "45", "17.52"),
        segment("CAS", "PR", "1", "12.48"),
        segment("SVC", "HC:36415", "10", "0", "", "1"),
        segment("DTM", "472", "20250303"),
        segment("CAS", "CO", "45", "6.1"),
        segment("CAS", "PR", "1", "3.9"),
    ]


def big_835(size: int) -> str:
    claims: list[str] = []
    n = chars = 0
    while chars < size:
        for seg in _claim(n):
            claims.append(seg)
            chars += len(seg)
        n += 1
    header = [
        segment("BPR", "I", f"{125 * n}", "C", "ACH", "CCP", *[""] * 10, "20250401"),
        segment("TRN", "1", "BIGTRACE", "1512345678"),
        segment("N1", "PR", "BIG PAYER"),
        segment("REF", "2U", "PPO01"),
        segment("N1", "PE", "CLINIC", "XX", "1234567893"),
        segment("LX", "1"),
    ]
    body = ["ST*835*0001~", *header, *claims, f"SE*{len(header) + len(claims) + 2}*0001~"]
    env = Envelope("ZZ", "PAYER", "ZZ", "CLINIC", "HP", "005010X221A1", 1, 1, at=AT)
    return wrap(env, [body])


def _members(size: int) -> Iterator[str]:
    chars, k, hl = 0, 0, 2
    while chars < size:
        segs = [
            segment("HL", str(hl + 1), "2", "22", "0"),
            segment("TRN", "2", f"T{k:09d}", "9123456789"),
            segment("NM1", "IL", "1", "DOE", "JANE", "", "", "", "MI", f"M{k:09d}"),
            segment("DTP", "346", "D8", "20250101"),
            segment("EB", "1", "IND", "30", "", "PPO PLAN"),
            segment("EB", "C", "IND", "30", "", "", "23", "500", "", "", "", "", "Y"),
            segment("EB", "A", "IND", "30", "", "", "", "", ".2", "", "", "", "Y"),
            segment("EB", "B", "IND", "98", "", "", "27", "25", "", "", "", "", "Y"),
        ]
        for s in segs:
            chars += len(s)
            yield s
        k, hl = k + 1, hl + 1


def big_271(size: int) -> str:
    head = [
        segment("BHT", "0022", "11", "1", "20250401", "0800"),
        segment("HL", "1", "", "20", "1"),
        segment("NM1", "PR", "2", "BIG PAYER", "", "", "", "", "PI", "PPO01"),
        segment("HL", "2", "1", "21", "1"),
        segment("NM1", "1P", "2", "CLINIC", "", "", "", "", "XX", "1234567893"),
    ]
    members = list(_members(size))
    body = [
        "ST*271*0001*005010X279A1~",
        *head,
        *members,
        f"SE*{len(head) + len(members) + 2}*0001~",
    ]
    env = Envelope("ZZ", "PAYER", "ZZ", "CLINIC", "HB", "005010X279A1", 1, 1, at=AT)
    return wrap(env, [body])


def main(argv: list[str]) -> None:
    kind, megabytes, out = argv[1], float(argv[2]), Path(argv[3])
    size = int(megabytes * 1024 * 1024)
    text = big_835(size) if kind == "835" else big_271(size)
    out.write_text(text.replace("~", "~\n"))
    print(f"{out}: {len(text):,} characters")


if __name__ == "__main__":
    main(sys.argv)
