"""What one synthetic family-medicine visit bills: its diagnoses and lines.

The mix follows a family practice's day: preventive visits by age band, problem visits
99212-99215 with an MDM level and time that fit the code, chronic care with its
monitoring labs, waived point-of-care tests, injections, vaccines, ECGs, depression
screening, and about 10% preventive-plus-problem days with modifier 25 on the problem
E/M, and XU on an injection given with vaccines. Every choice comes from the ``rng``
passed in, in a fixed order, so a visit is deterministic for its seed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from rcm.practice import CHARGE_MASTER
from schemas.common import ServiceLine, VisitType


def _line(code: str, dx: Sequence[str], *, mods: Sequence[str] = (), units: int = 1) -> ServiceLine:
    return ServiceLine(
        procedure_code=code,
        modifiers=list(mods),
        units=units,
        charge_cents=CHARGE_MASTER[code] * units,
        diagnosis_codes=list(dx)[:4],
    )


def _preventive_code(age: int, new_patient: bool) -> str:
    bands = ((0, 0, "1"), (1, 4, "2"), (5, 11, "3"), (12, 17, "4"), (18, 39, "5"),
             (40, 64, "6"))  # fmt: skip
    digit = next((d for lo, hi, d in bands if lo <= age <= hi), "7")
    return ("9938" if new_patient else "9939") + digit


# Problem E/M by MDM level, with a total time that fits the level (2021+ office rules).
PROBLEM_LEVELS: tuple[tuple[str, str, str, int, int], ...] = (
    # established, new, mdm, min minutes, max minutes
    ("99212", "99202", "straightforward", 10, 19),
    ("99213", "99203", "low", 20, 29),
    ("99214", "99204", "moderate", 30, 39),
    ("99215", "99205", "high", 40, 54),
)


@dataclass
class Visit:
    """What one encounter bills, being assembled."""

    diagnoses: list[str] = field(default_factory=list)
    lines: list[ServiceLine] = field(default_factory=list)
    visit_type: VisitType = VisitType.problem
    new_patient: bool = False
    mdm: str | None = None
    minutes: int | None = None

    def dx(self, *codes: str) -> list[str]:
        for c in codes:
            if c not in self.diagnoses:
                self.diagnoses.append(c)
        return list(codes)

    def add(
        self, code: str, dx: Sequence[str], *, mods: Sequence[str] = (), units: int = 1
    ) -> None:
        """Add a line; the same code and modifiers twice merge into one line."""
        self.dx(*dx)
        for i, line in enumerate(self.lines):
            if line.procedure_code == code and tuple(line.modifiers) == tuple(mods):
                merged = list(dict.fromkeys([*line.diagnosis_codes, *dx]))
                self.lines[i] = _line(code, merged, mods=mods, units=line.units)
                return
        self.lines.append(_line(code, dx, mods=mods, units=units))


# Clinical content

# Acute problems: (diagnoses, point-of-care test or None, typical level index 0-3)
_ACUTE: tuple[tuple[tuple[str, ...], str | None, int], ...] = (
    (("J02.0",), "87880+", 1),  # strep pharyngitis, rapid strep positive
    (("J02.9",), "87880-", 1),  # pharyngitis, rapid strep negative
    (("J06.9",), None, 0),
    (("J10.1",), "87804+", 1),  # influenza, rapid flu positive
    (("R05.9", "R50.9"), "87804-", 1),
    (("J01.90",), None, 1),
    (("J20.9",), None, 1),
    (("H66.91",), None, 1),
    (("M54.50",), None, 1),
    (("M54.2",), None, 1),
    (("R51.9",), None, 1),
    (("N39.0", "R30.0"), "81003", 1),
    (("R30.0",), "81002", 0),
    (("L70.0",), None, 1),
    (("K21.9",), None, 1),
    (("R10.9", "K59.00"), None, 2),
    (("R53.83",), "85025", 2),
    (("R07.9",), "93000", 3),
    (("R00.2",), "93000", 2),
)


def _add_problem(v: Visit, rng: random.Random, *, age: int, with_25: bool) -> None:
    """An acute problem visit (E/M + any tests/injection) on the visit."""
    roll = rng.random()
    mods: list[str] = ["25"] if with_25 else []
    dx: tuple[str, ...]
    if roll < 0.10 and age >= 12:
        # anxiety / depression with a standardized instrument
        dx = (rng.choice(("F41.1", "F41.9", "F32.A")),)
        level = 2
        tests: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [("96127", dx, ())]
        injection: tuple[str, int, tuple[str, ...]] | None = None
    elif roll < 0.18 and age >= 6:
        # injections: methylprednisolone for poison ivy / asthma flare, or Kenalog IM
        pick = rng.random()
        if pick < 0.4:
            dx = ("L23.7",)
            injection = ("J1010", 40, dx)  # 40 mg (J1030 ended 2024-03-31)
        elif pick < 0.7:
            dx = ("J45.901",)
            injection = ("J1010", 40, dx)  # 40 mg (J1030 ended 2024-03-31)
        else:
            dx = ("J30.2",)
            injection = ("J3301", 4, dx)  # 40 mg = 4 x 10 mg
        level = 1 if pick >= 0.4 else 2
        tests = []
    else:
        dx_codes, test, level = rng.choice(_ACUTE)
        if test == "93000" and age < 18:
            dx_codes, test, level = ("J06.9",), None, 0
        dx = dx_codes
        tests = []
        injection = None
        if test is not None:
            code = test.rstrip("+-")
            waived = ("QW",) if code in ("87880", "87804") else ()
            tests.append((code, dx[:1] if code != "85025" else dx, waived))
    level = max(0, min(3, level + rng.choice((-1, 0, 0, 0, 1))))
    est, new, mdm, lo, hi = PROBLEM_LEVELS[level]
    if injection is not None:
        mods = ["25"]  # E/M with a same-day injection
    em = new if v.new_patient else est
    v.mdm = mdm  # the problem E/M's level rests on its MDM (2021 office rules)
    if v.visit_type is not VisitType.preventive:
        v.minutes = rng.randint(lo, hi)
    v.add(em, dx, mods=mods)
    for code, tdx, tmods in tests:
        v.add(code, tdx, mods=tmods)
        if code == "85025":
            v.add("36415", tdx)
    if injection is not None:
        drug, units, idx = injection
        v.add("96372", idx)
        v.add(drug, idx, units=units)


def _vaccines(
    v: Visit, rng: random.Random, *, age: int, medicare: bool, october_to_march: bool
) -> None:
    """Age-appropriate vaccines with their administration codes."""
    products: list[str] = []
    if age >= 65:
        if rng.random() < 0.5 or october_to_march:
            products.append("90686")
        if rng.random() < 0.25:
            products.append("90732")
    elif age >= 7:
        if rng.random() < 0.7:
            products.append("90686")
        if 11 <= age <= 12 or (age >= 19 and rng.random() < 0.15):
            products.append("90715")
    elif age == 0:
        products.append("90744")
    else:
        if rng.random() < 0.6:
            products.append("90686")
        if age in (1, 4, 5):
            products.append("90707")
        if age in (4, 5, 6) or (1 <= age <= 2 and rng.random() < 0.5):
            products.append("90700")
    if not products:
        products.append("90686")
    z23 = v.dx("Z23")
    if medicare:
        for p in products:
            v.add("G0008" if p == "90686" else "G0009", z23)
            v.add(p, z23)
        return
    v.add("90471", z23)
    if len(products) > 1:
        v.add("90472", z23, units=len(products) - 1)
    for p in products:
        v.add(p, z23)


def _chronic(v: Visit, rng: random.Random, *, age: int, with_25: bool) -> None:
    """Chronic care: diabetes, hypertension, hyperlipidemia with their monitoring labs."""
    conds: list[str] = []
    if rng.random() < 0.5:
        conds.append(rng.choice(("E11.9", "E11.9", "E11.65")))
    if rng.random() < 0.6 or not conds:
        conds.append("I10")
    if rng.random() < 0.45:
        conds.append("E78.5")
    if age >= 40 and rng.random() < 0.08:
        conds.append("E03.9")
    level = 2 if len(conds) >= 2 or "E11.65" in conds else 1
    if rng.random() < 0.12:
        level = 3
    est, new, mdm, lo, hi = PROBLEM_LEVELS[level]
    v.mdm, v.minutes = mdm, rng.randint(lo, hi)
    v.visit_type = VisitType.chronic
    v.add(new if v.new_patient else est, conds[:4], mods=["25"] if with_25 else [])
    labs: list[tuple[str, tuple[str, ...]]] = []
    diabetes = next((c for c in conds if c.startswith("E11")), None)
    if diabetes and rng.random() < 0.85:
        labs.append(("83036", (diabetes,)))
    if "I10" in conds and rng.random() < 0.6:
        labs.append(("80053", ("I10",) + ((diabetes,) if diabetes else ())))
    if "E78.5" in conds and rng.random() < 0.7:
        labs.append(("80061", ("E78.5",)))
    if labs:
        v.add("36415", tuple(dict.fromkeys(c for _, d in labs for c in d))[:4])
        for code, ldx in labs:
            v.add(code, ldx)
    if "I10" in conds and age >= 40 and rng.random() < 0.1:
        v.add("93000", ("I10",))


def _procedure(v: Visit, rng: random.Random, *, age: int) -> None:
    """Office procedures: wart destruction, cerumen removal, knee injection."""
    v.visit_type = VisitType.procedure
    roll = rng.random()
    if roll < 0.4:
        dx = (rng.choice(("B07.9", "L82.1")),)
        v.add("17110", dx)
    elif roll < 0.75:
        side = rng.choice((("H61.21", "RT"), ("H61.22", "LT"), ("H61.23", "50")))
        v.add("69210", (side[0],), mods=(side[1],))
    elif age >= 40:
        dx = ("M17.11",)
        v.add("20610", dx, mods=("RT",))
        v.add("J3301", dx, units=4)
    else:
        v.add("17110", ("B07.9",))


def _preventive(
    v: Visit, rng: random.Random, *, age: int, medicare: bool, october_to_march: bool
) -> None:
    v.visit_type = VisitType.preventive
    if medicare:
        # Medicare annual wellness visit: initial G0438 once, G0439 after.
        initial = rng.random() < 0.2
        abnormal = rng.random() < 0.3
        awv_dx = ("Z00.01", "E78.5") if abnormal else ("Z00.00",)
        v.new_patient = False
        v.add("G0438" if initial else "G0439", awv_dx)
        if not initial and rng.random() < 0.5:
            v.add("G0444", v.dx("Z13.31"))
        if rng.random() < 0.2:
            v.add("G0442", v.dx("Z13.89"))
    else:
        code = _preventive_code(age, v.new_patient)
        abnormal = rng.random() < 0.25
        if age < 18:
            extra = (rng.choice(("L70.0", "J30.9", "E66.9")),) if abnormal else ()
            v.add(code, (("Z00.121",) if abnormal else ("Z00.129",)) + extra)
        else:
            extra = (rng.choice(("E78.5", "R73.03", "E66.9")),) if abnormal else ()
            v.add(code, (("Z00.01",) if abnormal else ("Z00.00",)) + extra)
            if rng.random() < 0.5:
                first = v.diagnoses[0]
                v.add("36415", (first,))
                v.add("80053", (first,))
                if rng.random() < 0.7:
                    v.add("80061", (first, *extra))
        if age >= 12 and rng.random() < 0.5:
            v.add("96127", v.dx("Z13.31"))
    if rng.random() < (0.55 if october_to_march else 0.3):
        _vaccines(v, rng, age=age, medicare=medicare, october_to_march=october_to_march)


_VACCINE_ADMIN = frozenset({"90471", "90472", "G0008", "G0009"})


def _distinct_injection(v: Visit) -> None:
    """A therapeutic injection given with vaccines is a distinct service: NCCI bundles
    96372 into the vaccine administration unless modifier XU (or 59) says so."""
    if not any(ln.procedure_code in _VACCINE_ADMIN for ln in v.lines):
        return
    for i, ln in enumerate(v.lines):
        if ln.procedure_code == "96372" and "XU" not in ln.modifiers:
            v.lines[i] = ln.model_copy(update={"modifiers": [*ln.modifiers, "XU"]})


def visit(rng: random.Random, *, age: int, medicare: bool, october_to_march: bool) -> Visit:
    """One visit's content for a patient of ``age`` (whole years on the date of service)."""
    v = Visit()
    v.new_patient = rng.random() < 0.08
    kind = rng.random()
    if kind < 0.22:
        _preventive(v, rng, age=age, medicare=medicare, october_to_march=october_to_march)
    elif kind < 0.32:
        # preventive plus a separately identifiable problem: modifier 25 on the problem E/M
        _preventive(v, rng, age=age, medicare=medicare, october_to_march=october_to_march)
        if rng.random() < 0.5 and age >= 18:
            _chronic(v, rng, age=age, with_25=True)
            v.visit_type = VisitType.preventive
        else:
            _add_problem(v, rng, age=age, with_25=True)
    elif kind < 0.65:
        _add_problem(v, rng, age=age, with_25=False)
        if rng.random() < 0.1:
            _vaccines(v, rng, age=age, medicare=medicare, october_to_march=october_to_march)
    elif kind < 0.90 and age >= 18:
        _chronic(v, rng, age=age, with_25=False)
        if rng.random() < 0.15:
            _vaccines(v, rng, age=age, medicare=medicare, october_to_march=october_to_march)
    elif kind < 0.90:
        _add_problem(v, rng, age=age, with_25=False)
    elif kind < 0.95:
        v.new_patient = False
        _procedure(v, rng, age=age)
    else:
        _nurse_visit(v, rng, age=age, medicare=medicare, october_to_march=october_to_march)
    _distinct_injection(v)
    return v


def _nurse_visit(
    v: Visit, rng: random.Random, *, age: int, medicare: bool, october_to_march: bool
) -> None:
    v.new_patient = False
    v.visit_type = VisitType.nurse
    if rng.random() < 0.7:
        _vaccines(v, rng, age=age, medicare=medicare, october_to_march=october_to_march)
    else:
        dx = v.dx("D51.9") if age >= 18 else v.dx("Z23")
        if dx == ["Z23"]:
            _vaccines(v, rng, age=age, medicare=medicare, october_to_march=october_to_march)
        else:
            v.add("96372", dx)
            v.add("J3420", dx)
