"""What a statement line says the service was, in words a patient reads. Pure.

CPT's own descriptors are the AMA's and never ship here. The project writes its own short
plain-language descriptions for the codes a family practice bills (``data/cpt_plain.csv``)
and for the HCPCS Level II codes it sees (``data/hcpcs_level2_patient.csv``; HCPCS is
public). A practice may load its own file (CSV ``code,description``: a licensed CPT file,
or its own wording), which wins over ours. A code in none of them is described by its
category ("Laboratory test"), never shown as a bare number.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"

#: CPT Category I sections and the family-medicine ranges within them, most specific
#: first: (first code, last code, what the patient reads).
CPT_RANGES: tuple[tuple[int, int, str], ...] = (
    (99202, 99215, "Office visit"),
    (99381, 99397, "Yearly checkup"),
    (99401, 99429, "Preventive counseling"),
    (99441, 99458, "Telephone or online visit"),
    (99202, 99499, "Visit or care management"),
    (99500, 99607, "Home health service"),
    (90281, 90399, "Medicine from blood products"),
    (90460, 90474, "Giving a vaccine"),
    (90476, 90759, "Vaccine"),
    (90785, 90899, "Mental health service"),
    (92002, 92499, "Eye exam or test"),
    (92502, 92700, "Ear, nose or throat test"),
    (93000, 93998, "Heart test"),
    (94002, 94799, "Breathing test or treatment"),
    (95004, 95199, "Allergy test or treatment"),
    (96360, 96549, "Injection or infusion"),
    (97010, 97799, "Physical therapy"),
    (90281, 99199, "Medical service"),
    (80047, 89398, "Laboratory test"),
    (70010, 79999, "X-ray or imaging"),
    (10004, 69990, "Procedure"),
    (100, 1999, "Anesthesia"),
)

#: HCPCS Level II by its first letter.
HCPCS_LETTERS: Mapping[str, str] = {
    "A": "Medical supplies",
    "B": "Feeding supplies",
    "C": "Outpatient hospital service",
    "E": "Medical equipment",
    "G": "Professional service",
    "H": "Behavioral health service",
    "J": "Medicine given by injection",
    "K": "Medical equipment",
    "L": "Brace or artificial limb",
    "M": "Quality measure",
    "P": "Laboratory test",
    "Q": "Medical service",
    "R": "Imaging transport",
    "S": "Medical service",
    "T": "Medical service",
    "U": "Laboratory test",
    "V": "Vision or hearing service",
}


@lru_cache(maxsize=8)
def read_descriptions(path: Path) -> Mapping[str, str]:
    """A CSV file with the columns ``code`` and ``description``."""
    with path.open(newline="") as f:
        return {
            row["code"].strip().upper(): row["description"].strip() for row in csv.DictReader(f)
        }


def category(code: str) -> str:
    """The kind of service a code is, for a code no table describes."""
    code = code.strip().upper()
    if code[:1].isalpha():
        return HCPCS_LETTERS.get(code[0], "Medical service")
    if len(code) == 5 and code[:4].isdigit() and code[4] == "F":
        return "Quality reporting (no charge)"
    if len(code) == 5 and code[:4].isdigit() and code[4] == "T":
        return "Medical service (new technology)"
    if code.isdigit():
        n = int(code)
        for first, last, text in CPT_RANGES:
            if first <= n <= last:
                return text
    return "Medical service"


def describe(code: str, own_file: Path | None = None) -> str:
    """The practice's own description, else ours, else the code's category."""
    code = code.strip().upper()
    if own_file is not None and (text := read_descriptions(own_file).get(code)):
        return text
    ours = "hcpcs_level2_patient.csv" if code[:1].isalpha() else "cpt_plain.csv"
    return read_descriptions(DATA_DIR / ours).get(code) or category(code)
