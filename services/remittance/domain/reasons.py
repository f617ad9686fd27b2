"""Claim adjustment reason codes (CARC) and remittance advice remarks (RARC) in plain
words, and what a biller does about a denied or reduced line.

The words are the project's own, written for a billing office (``services/remittance/
data/carc_plain.csv`` and ``rarc_plain.csv``), not the code lists' official text. A code
without words on file is named as such, never guessed. Read once per process."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"

#: What a person does about a line of each category when its CARC has no action of its own.
ACTIONS = {
    "correctable": "correct the claim and send it as a replacement (frequency 7, REF*F8 with"
    " the payer's claim number)",
    "appealable": "appeal the line with the records that support it before the payer's"
    " appeal deadline",
    "write_off": "write the amount off with its reason; it cannot be billed to the patient",
    "patient_responsibility": "bill the patient: the payer assigned this amount to them",
}
#: CARCs whose work is more particular than their category's.
CARC_ACTIONS = {
    "16": "add what the remarks name is missing and send a replacement (frequency 7)",
    "18": "check for a duplicate; if a change was meant, send it as a replacement (frequency 7)",
    "22": "bill the patient's other payer first, then send the claim with its payment (COB)",
    "97": "if the service was distinct, add modifier 25 or 59 and send a replacement",
    "109": "send the claim to the patient's correct payer",
    "197": "if an authorization was obtained, add it (REF*G1) and send a replacement;"
    " otherwise appeal with the records showing the service was urgent",
    "198": "ask the payer to extend the authorization, then appeal the line",
    "252": "send the documents the payer asked for (PWK) with a replacement claim",
}


@cache
def _words(name: str) -> dict[str, str]:
    with (DATA / name).open(newline="", encoding="utf-8") as f:
        return {row["code"].strip(): row["words"].strip() for row in csv.DictReader(f)}


def carc_words(code: str) -> str:
    return _words("carc_plain.csv").get(code) or f"reason {code} (no words on file)"


def rarc_words(codes: Iterable[str]) -> list[str]:
    table = _words("rarc_plain.csv")
    return [f"{c}: {table.get(c) or 'no words on file'}" for c in codes]


def suggested_action(category: str, reason: str) -> str:
    """The work a denied line of ``category`` with CARC ``reason`` asks for."""
    if category in ("correctable", "appealable") and reason in CARC_ACTIONS:
        return CARC_ACTIONS[reason]
    return ACTIONS[category]
