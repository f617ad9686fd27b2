"""The coding case suite: claims written from the official guidelines (ICD-10-CM
guidelines and tabular conventions, CMS's Medicare Code Editor, NCCI, CPT's E/M and
vaccine instructions), each with the outcome a coder expects. See tests/cases/coding/
README.md for the format.

A case that must be held names every holding edit (and the line, for a line-level
rule): the claim must be held by exactly those. A clean case must pass with no holding
finding (and any warnings it names must be there).
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from schemas.common import (
    Address,
    Coverage,
    Documentation,
    Person,
    Provider,
    ServiceLine,
    Sex,
    VisitType,
)
from schemas.events import ClaimCoded, EligibilityChecked, EncounterCreated
from services.coding.codesets import EM_OFFICE_NEW, EM_PREVENTIVE, EM_PREVENTIVE_NEW
from services.coding.edits.facts import PriorService
from services.coding.ncci import bundled_tables
from services.coding.payer_rules import NONE, PayerRules, RuleBook, parse
from services.coding.scrub import scrub

pytestmark = pytest.mark.unit

CASES_DIR = Path(__file__).resolve().parents[1] / "cases" / "coding"
RULES_DIR = Path(__file__).resolve().parents[2] / "rcm" / "payer_rules"
BOOK = RuleBook(
    [r for f in sorted(RULES_DIR.glob("*.csv")) for r in parse(f.read_text(encoding="utf-8"))]
)
"""The demo payers' rules (what `make demo` loads): every case is scrubbed with them."""
DOS = dt.date(2026, 4, 6)
ADDR = Address(line1="12 TEST LN", city="TESTVILLE", state="VT", postal_code="05601")
VALID_NPI = "1234567893"  # CMS's example NPI: Luhn-valid with the 80840 prefix
PAYER_NAMES = {
    "MCR01": "MEDICARE PART B SIM",
    "MCD01": "STATE MEDICAID SIM",
    "HDHP1": "SUMMIT HDHP",
}
MDM_FOR_LEVEL = {"2": "straightforward", "3": "low", "4": "moderate", "5": "high"}
_LINE = re.compile(
    r"^\s*(?P<code>[0-9A-Z]{5})(?P<mods>(?:-[0-9A-Z]{2})*)(?:\s*x(?P<units>\d+))?\s*"
    r"(?::\s*(?P<dx>.*))?$"
)
_AGE = re.compile(r"^(?P<sex>[FMU])\s+(?P<n>\d+)(?P<unit>[ydm])$")


def _load() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in sorted(CASES_DIR.glob("*.toml")):
        for case in tomllib.loads(path.read_text(encoding="utf-8"))["case"]:
            cases.append({**case, "file": path.name})
    return cases


CASES = _load()


def _patient(spec: str, dos: dt.date) -> Person:
    m = _AGE.match(spec)
    assert m, f"bad patient spec {spec!r}"
    n, unit = int(m["n"]), m["unit"]
    if unit == "y":
        birth = dos.replace(year=dos.year - n) - dt.timedelta(days=10)
    else:
        birth = dos - dt.timedelta(days=n if unit == "d" else round(n * 30.44))
    return Person(
        id="MRN-CASE",
        first_name="CASE",
        last_name="PATIENT",
        birth_date=birth,
        sex=Sex(m["sex"]),
        address=ADDR,
    )


def _line(spec: str, auth: str | None = None, referral: str | None = None) -> ServiceLine:
    m = _LINE.match(spec)
    assert m, f"bad line spec {spec!r}"
    dx = [d.strip() for d in (m["dx"] or "").split(",") if d.strip()]
    return ServiceLine(
        procedure_code=m["code"],
        modifiers=[x for x in m["mods"].split("-") if x],
        units=int(m["units"] or 1),
        charge_cents=10000,
        diagnosis_codes=dx,
        prior_authorization=auth,
        referral_number=referral,
    )


def _coverage(payer: str, priority: int) -> Coverage:
    return Coverage(
        payer_id=payer,
        payer_name=PAYER_NAMES.get(payer, "BLUE MEADOW PPO"),
        member_id=f"MEM{priority}23456789",
        plan="PLAN",
        priority=priority,
        effective_date=dt.date(2024, 1, 1),
    )


def _documentation(case: dict[str, Any], lines: list[ServiceLine]) -> Documentation:
    codes = [ln.procedure_code for ln in lines]
    problem = next((c for c in codes if c.startswith(("9920", "9921"))), None)
    new = case.get("new", any(c in EM_OFFICE_NEW | EM_PREVENTIVE_NEW for c in codes))
    mdm = case.get("mdm", MDM_FOR_LEVEL.get(problem[4]) if problem else None)
    preventive = any(c in EM_PREVENTIVE or c in ("G0438", "G0439") for c in codes)
    visit = case.get("visit", "preventive" if preventive else "problem")
    return Documentation(
        visit_type=VisitType(visit),
        new_patient=new,
        mdm_level=None if mdm == "none" else mdm,
        total_minutes=case.get("minutes"),
    )


def build(case: dict[str, Any]) -> tuple[EligibilityChecked, list[PriorService], PayerRules]:
    dos = dt.date.fromisoformat(case.get("dos", DOS.isoformat()))
    auths, referrals = case.get("line_auth", {}), case.get("line_referral", {})
    lines = [
        _line(s, auths.get(str(n)), referrals.get(str(n)))
        for n, s in enumerate(case["lines"], start=1)
    ]
    payers = [] if case.get("payer") == "self" else [case.get("payer", "PPO01")]
    payers += [case["payer2"]] if "payer2" in case else []
    coverages = [_coverage(p, i) for i, p in enumerate(payers, start=1)]
    enc = EncounterCreated(
        encounter_id=f"E-{case['id']}"[:64],
        patient=_patient(case["patient"], dos),
        coverages=coverages,
        rendering_provider=Provider(
            npi=case.get("rendering_npi", VALID_NPI),
            name="DOC",
            first_name="TEST",
            taxonomy=case.get("taxonomy", "207Q00000X"),
        ),
        billing_provider=Provider(
            npi=case.get("billing_npi", VALID_NPI), name="MAPLE FAMILY MEDICINE", tax_id="123456789"
        ),
        place_of_service=case.get("pos", "11"),
        date_of_service=dos,
        diagnoses=case["dx"],
        lines=lines,
        documentation=_documentation(case, lines),
        prior_authorization=case.get("auth"),
        referral_number=case.get("referral"),
    )
    primary = coverages[0] if coverages else None
    checked = EligibilityChecked(
        claim_id="C000000000000001",
        encounter_id=enc.encounter_id,
        active=True,
        self_pay=primary is None,
        payer_id=primary.payer_id if primary else None,
        payer_name=primary.payer_name if primary else None,
        plan=primary.plan if primary else None,
        member_id=primary.member_id if primary else None,
        encounter=enc,
    )
    history = []
    for h in case.get("history", []):
        code, day, *payer = h.split()
        billed = payer[0] if payer else (primary.payer_id if primary else None)
        history.append(PriorService(code, dt.date.fromisoformat(day), "C-PRIOR", billed))
    rules = NONE
    if case.get("rules") != "none" and primary is not None:
        rules = BOOK.for_claim(primary.payer_id, dos)
    return checked, history, rules


def _expected(case: dict[str, Any]) -> set[tuple[str, int | None]]:
    out: set[tuple[str, int | None]] = set()
    for item in case["expect"]:
        edit, _, line = item.partition("@")
        out.add((edit, int(line) if line else None))
    return out


def test_the_suite_is_the_size_the_issue_asks_for() -> None:
    clean = [c for c in CASES if not c["expect"]]
    visits = [c for c in clean if c.get("visit_kind")]
    assert len(CASES) >= 150
    assert len(visits) >= 40
    assert len({c["id"] for c in CASES}) == len(CASES), "case ids must be unique"
    assert all(c.get("source") for c in CASES), "every case names its guideline"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case: dict[str, Any]) -> None:
    checked, history, rules = build(case)
    result = scrub(checked, bundled_tables(), history, rules)
    holds = {(f.edit, f.line) for f in result.findings if f.severity == "hold"}
    expected = _expected(case)
    shown = [(f.edit, f.line, f.message) for f in result.findings]
    assert holds == expected, f"{case['file']}: {case['id']}: {shown}"
    assert isinstance(result, ClaimCoded) == (not expected), shown
    warned = {f.edit for f in result.findings if f.severity == "warn"}
    assert set(case.get("warn", [])) <= warned, shown
    for f in result.findings:
        if f.severity == "hold" and f.line is not None:
            assert f"line {f.line}" in f.message, f"a line-level hold names its line: {f.message}"
    if not isinstance(result, ClaimCoded):
        assert all(r.fix for r in result.reasons), "every hold says what to fix"
