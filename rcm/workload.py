"""The demo's synthetic family-medicine day.

:func:`generate_day` returns ``n`` :class:`EncounterCreated` events for one date of
service, deterministic for a seed: encounter ``i`` depends only on
``(tenant, date_of_service, seed, i)``, so ``generate_day(50, s)`` is a prefix of
``generate_day(100, s)``.

The mix follows a family practice's day: preventive visits by age band (children,
adults, Medicare annual wellness visits for 65+), problem visits 99212-99215 with an
MDM level and time that fit the code, chronic care with its monitoring labs, waived
point-of-care tests, injections, vaccines, ECGs, depression screening, and about 10%
preventive-plus-problem days with modifier 25 on the problem E/M, and XU on an
injection given with vaccines. Every encounter passes the coding scrubber with the
bundled NCCI/MUE subset applied and no findings (for a date of service inside the
loaded ICD-10-CM release; outside it only the CODESET-VERSION warning); about 2% carry
a coverage terminated before the date of service, for eligibility to catch.

Everything is synthetic: names and addresses are combined from small built-in lists,
and NPIs are made up (they only pass the Luhn check). CPT appears as code numbers only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from schemas.common import (
    Address,
    Coverage,
    Documentation,
    Person,
    Provider,
    Relationship,
    ServiceLine,
    Sex,
    VisitType,
)
from schemas.events import EligibilityChecked, EncounterCreated

DEFAULT_DATE_OF_SERVICE = dt.date(2026, 4, 6)
PLACE_OF_SERVICE = "11"  # office
TAXONOMY_FAMILY_MEDICINE = "207Q00000X"


# --------------------------------------------------------------------------- NPI


def npi_check_digit(base9: str) -> str:
    """Luhn check digit of a 9-digit NPI base, computed with the 80840 card-issuer prefix."""
    if len(base9) != 9 or not base9.isdigit():
        raise ValueError("an NPI base is 9 digits")
    total = 24  # the doubled-and-summed contribution of the 80840 prefix
    for i, ch in enumerate(reversed(base9)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def is_valid_npi(npi: str) -> bool:
    """10 digits, first digit 1 or 2, Luhn-valid with the 80840 prefix."""
    return (
        len(npi) == 10 and npi.isdigit() and npi[0] in "12" and npi_check_digit(npi[:9]) == npi[9]
    )


def make_npi(base9: str) -> str:
    return base9 + npi_check_digit(base9)


# --------------------------------------------------------------------------- the practice

PRACTICE_ADDRESS = Address(
    line1="1200 ORCHARD VALE RD",
    line2="SUITE 100",
    city="CEDAR HOLLOW",
    state="VT",
    postal_code="056019912",
)
BILLING_PROVIDER = Provider(
    npi=make_npi("158640273"),
    name="MAPLE FAMILY MEDICINE",
    tax_id="471938265",
    taxonomy=TAXONOMY_FAMILY_MEDICINE,
    address=PRACTICE_ADDRESS,
)
RENDERING_PROVIDERS: tuple[Provider, ...] = (
    Provider(
        npi=make_npi("137295048"),
        name="ABERNATHY",
        first_name="CORALINE",
        taxonomy=TAXONOMY_FAMILY_MEDICINE,
    ),
    Provider(
        npi=make_npi("164820395"),
        name="VANTERPOOL",
        first_name="ELIAS",
        taxonomy=TAXONOMY_FAMILY_MEDICINE,
    ),
    Provider(
        npi=make_npi("192057316"),
        name="QUILLFEATHER",
        first_name="MARISOL",
        taxonomy=TAXONOMY_FAMILY_MEDICINE,
    ),
)

# Practice charge master, integer cents. CPT numbers only, no descriptors.
CHARGE_MASTER: dict[str, int] = {
    "99202": 12000, "99203": 17500, "99204": 26000, "99205": 33000,
    "99211": 4500, "99212": 9000, "99213": 15000, "99214": 22000, "99215": 30000,
    "99381": 24000, "99382": 24500, "99383": 25000, "99384": 26500,
    "99385": 26500, "99386": 28500, "99387": 31000,
    "99391": 21500, "99392": 22500, "99393": 22500, "99394": 24500,
    "99395": 25000, "99396": 28000, "99397": 30000,
    "G0438": 26000, "G0439": 19000, "G0442": 3500, "G0444": 3500,
    "96127": 1200, "36415": 2500, "80053": 4500, "80061": 5500, "83036": 4000,
    "85025": 3500, "81002": 1500, "81003": 1500, "87880": 3500, "87804": 3500,
    "96372": 4500, "J1030": 1500, "J3301": 1200, "J3420": 1000,
    "90471": 3000, "90472": 2000, "G0008": 3000, "G0009": 3000,
    "90686": 4500, "90744": 4000, "90715": 6000, "90732": 13000, "90700": 5000, "90707": 9000,
    "93000": 7500, "17110": 17000, "69210": 9500, "20610": 16000,
}  # fmt: skip


@dataclass(frozen=True)
class Payer:
    payer_id: str
    name: str
    plan: str


MEDICARE = Payer("MCR01", "MEDICARE PART B SIM", "MEDICARE PART B")
PPO = Payer("PPO01", "BLUE MEADOW PPO", "BLUE MEADOW PPO GOLD")
MEDICAID = Payer("MCD01", "STATE MEDICAID SIM", "STATE MEDICAID")
HDHP = Payer("HDHP1", "SUMMIT HDHP", "SUMMIT HDHP BRONZE")
PAYERS: tuple[Payer, ...] = (MEDICARE, PPO, MEDICAID, HDHP)

# --------------------------------------------------------------------------- names

FEMALE_FIRST = (
    "AVA", "BRIELLE", "CALLIOPE", "DELPHINE", "ELODIE", "FIONA", "GRETA", "HAZEL",
    "IMOGEN", "JUNIPER", "KEZIAH", "LENORE", "MAREN", "NOELANI", "ODETTE", "PERPETUA",
    "QUINN", "ROSALIND", "SABINE", "TAMSIN", "UNA", "VERITY", "WILHELMINA", "XIMENA",
    "YSOLDE", "ZINNIA",
)  # fmt: skip
MALE_FIRST = (
    "AMBROSE", "BARNABY", "CASSIUS", "DORIAN", "EZEKIEL", "FINNEGAN", "GIDEON",
    "HORATIO", "IGNATIUS", "JASPER", "KENZO", "LEANDER", "MALACHI", "NICODEMUS",
    "OSWIN", "PEREGRINE", "QUENTIN", "ROSCOE", "SILAS", "THADDEUS", "ULRIC", "VESPER",
    "WINSLOW", "XAVIER", "YORICK", "ZEBEDIAH",
)  # fmt: skip
LAST_NAMES = (
    "ALDERWICK", "BRAMBLECOTT", "CINDERHOLT", "DUNMARROW", "ELLSWORTHY", "FERNLOCK",
    "GALLOWMERE", "HOLLINGSBY", "IVERHAVEN", "JESSAMYNE", "KETTLEBRIDGE", "LARKSPURR",
    "MOSSGRAVE", "NETHERBY", "OAKENSHAW", "PENHALLOW", "QUARRINGTON", "ROOKSBY",
    "SALTONSTOW", "THISTLEWOOD", "UNDERHAY", "VELLACOTT", "WYNDERMERE", "YARROWFIELD",
)  # fmt: skip
STREETS = (
    "BIRCHWICK LN", "COPPER KETTLE RD", "DOVECOTE WAY", "ELDERBERRY CT", "FOXGLOVE ST",
    "GRISTMILL RD", "HEATHERSTONE DR", "INKWELL AVE", "JUNEBERRY PL", "KINGFISHER LOOP",
    "LANTERN HILL RD", "MILLSTREAM ST", "NIGHTJAR CT", "OLD QUARRY RD", "PUDDLEDOCK LN",
)  # fmt: skip
TOWNS: tuple[tuple[str, str], ...] = (
    ("CEDAR HOLLOW", "05601"), ("NORTH PELLWORTH", "05602"), ("BRACKENFORD", "05603"),
    ("WILLOWMERE", "05604"), ("STONEBRIDGE FALLS", "05605"),
)  # fmt: skip

# --------------------------------------------------------------------------- helpers


def _line(code: str, dx: Sequence[str], *, mods: Sequence[str] = (), units: int = 1) -> ServiceLine:
    return ServiceLine(
        procedure_code=code,
        modifiers=list(mods),
        units=units,
        charge_cents=CHARGE_MASTER[code] * units,
        diagnosis_codes=list(dx)[:4],
    )


def _age_on(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


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
class _Visit:
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


# --------------------------------------------------------------------------- clinical content

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


def _add_problem(v: _Visit, rng: random.Random, *, age: int, with_25: bool) -> None:
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
            injection = ("J1030", 1, dx)
        elif pick < 0.7:
            dx = ("J45.901",)
            injection = ("J1030", 1, dx)
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
    v: _Visit, rng: random.Random, *, age: int, medicare: bool, october_to_march: bool
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


def _chronic(v: _Visit, rng: random.Random, *, age: int, with_25: bool) -> None:
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


def _procedure(v: _Visit, rng: random.Random, *, age: int) -> None:
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
    v: _Visit, rng: random.Random, *, age: int, medicare: bool, october_to_march: bool
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


def _distinct_injection(v: _Visit) -> None:
    """A therapeutic injection given with vaccines is a distinct service: NCCI bundles
    96372 into the vaccine administration unless modifier XU (or 59) says so."""
    if not any(ln.procedure_code in _VACCINE_ADMIN for ln in v.lines):
        return
    for i, ln in enumerate(v.lines):
        if ln.procedure_code == "96372" and "XU" not in ln.modifiers:
            v.lines[i] = ln.model_copy(update={"modifiers": [*ln.modifiers, "XU"]})


# --------------------------------------------------------------------------- people


def _digits(rng: random.Random, k: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(k))


_MBI_ALPHA = "ACDEFGHJKMNPQRTUVWXY"  # letters an MBI may use (no S L O I B Z)


def _mbi(rng: random.Random) -> str:
    """A Medicare Beneficiary Identifier-shaped member id (synthetic)."""
    an = _MBI_ALPHA + "0123456789"
    return (
        rng.choice("123456789") + rng.choice(_MBI_ALPHA) + rng.choice(an)
        + rng.choice("0123456789") + rng.choice(_MBI_ALPHA) + rng.choice(an)
        + rng.choice("0123456789") + rng.choice(_MBI_ALPHA) + rng.choice(_MBI_ALPHA)
        + rng.choice("0123456789") + rng.choice("0123456789")
    )  # fmt: skip


def _member_id(payer: Payer, rng: random.Random) -> str:
    if payer is MEDICARE:
        return _mbi(rng)
    if payer is MEDICAID:
        return "MC" + _digits(rng, 9)
    if payer is PPO:
        return "BMP" + _digits(rng, 9)
    return "SHD" + _digits(rng, 8) + "01"


def _group(payer: Payer, rng: random.Random) -> str | None:
    if payer in (PPO, HDHP):
        return ("GRP" if payer is PPO else "SH") + _digits(rng, 6)
    return None


def _address(rng: random.Random) -> Address:
    town, zip5 = rng.choice(TOWNS)
    return Address(
        line1=f"{rng.randint(10, 9899)} {rng.choice(STREETS)}",
        line2=f"APT {rng.randint(1, 40)}" if rng.random() < 0.12 else None,
        city=town,
        state="VT",
        postal_code=zip5,
    )


def _person(
    rng: random.Random, pid: str, birth: dt.date, sex: Sex, last: str, address: Address
) -> Person:
    first = rng.choice(FEMALE_FIRST if sex is Sex.female else MALE_FIRST)
    return Person(
        id=pid, first_name=first, last_name=last, birth_date=birth, sex=sex, address=address
    )


def _birth_for_age(rng: random.Random, dos: dt.date, age: int, *, min_days: int = 0) -> dt.date:
    """A birth date giving exactly ``age`` whole years on ``dos``."""
    latest = _shift_years(dos, -age)  # birthday today
    earliest = _shift_years(dos, -(age + 1)) + dt.timedelta(days=1)
    span = (latest - earliest).days
    birth = latest - dt.timedelta(days=rng.randint(0, span))
    if (dos - birth).days < min_days:
        birth = dos - dt.timedelta(days=min_days + rng.randint(0, 30))
    return birth


def _shift_years(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


# --------------------------------------------------------------------------- the day


def _encounter_id(tenant: str, dos: dt.date, seed: int, index: int) -> str:
    h = hashlib.sha256(f"{tenant}|{dos.isoformat()}|{seed}".encode()).hexdigest()[:8]
    return f"E{dos:%Y%m%d}-{h}-{index:05d}"


def _rng(tenant: str, dos: dt.date, seed: int, index: int) -> random.Random:
    return random.Random(f"{tenant}|{dos.isoformat()}|{seed}|{index}")


def _one(index: int, seed: int, tenant: str, dos: dt.date) -> EncounterCreated:
    rng = _rng(tenant, dos, seed, index)
    october_to_march = dos.month >= 10 or dos.month <= 3

    # Who: age group drives payer and visit content.
    r = rng.random()
    if r < 0.20:
        age = rng.choice((0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17))
    elif r < 0.75:
        age = rng.randint(18, 64)
    else:
        age = rng.randint(65, 92)
    birth = _birth_for_age(rng, dos, age, min_days=60)
    age = _age_on(birth, dos)
    sex = Sex.female if rng.random() < 0.53 else Sex.male
    last = rng.choice(LAST_NAMES)
    address = _address(rng)
    mrn = "MRN" + _digits(rng, 8)
    patient = _person(rng, mrn, birth, sex, last, address)

    # Coverage.
    relationship = Relationship.self_
    subscriber: Person | None = None
    guarantor: Person | None = None
    if age >= 65:
        payer = MEDICARE
    elif age < 18:
        payer = MEDICAID if rng.random() < 0.55 else rng.choice((PPO, PPO, HDHP))
    else:
        payer = rng.choices((PPO, HDHP, MEDICAID), weights=(50, 30, 20))[0]
    if age < 18:
        parent_sex = Sex.female if rng.random() < 0.6 else Sex.male
        parent_birth = _birth_for_age(rng, dos, rng.randint(age + 20, age + 45))
        parent = _person(rng, "MRN" + _digits(rng, 8), parent_birth, parent_sex, last, address)
        guarantor = parent
        if payer is not MEDICAID:
            relationship, subscriber = Relationship.child, parent
    elif payer in (PPO, HDHP) and rng.random() < 0.06:
        spouse_sex = Sex.male if sex is Sex.female else Sex.female
        spouse_birth = _birth_for_age(rng, dos, max(18, min(64, age + rng.randint(-5, 5))))
        relationship = Relationship.spouse
        subscriber = _person(rng, "MRN" + _digits(rng, 8), spouse_birth, spouse_sex, last, address)
    effective = dos - dt.timedelta(days=rng.randint(30, 2500))
    if payer is MEDICARE:
        effective = max(effective, _shift_years(birth, 65).replace(day=1))
    terminated: dt.date | None = None
    if rng.random() < 0.02:
        terminated = dos - dt.timedelta(days=rng.randint(1, 25))
        effective = min(effective, terminated - dt.timedelta(days=90))
    coverages = [
        Coverage(
            payer_id=payer.payer_id,
            payer_name=payer.name,
            member_id=_member_id(payer, rng),
            group_number=_group(payer, rng),
            plan=payer.plan,
            priority=1,
            effective_date=effective,
            termination_date=terminated,
            relationship=relationship,
            subscriber=subscriber,
        )
    ]
    secondary_roll = rng.random()
    if (payer is MEDICARE and secondary_roll < 0.10) or (
        payer in (PPO, HDHP) and relationship is Relationship.self_ and secondary_roll < 0.02
    ):
        second = MEDICAID if payer is MEDICARE else (HDHP if payer is PPO else PPO)
        coverages.append(
            Coverage(
                payer_id=second.payer_id,
                payer_name=second.name,
                member_id=_member_id(second, rng),
                group_number=_group(second, rng),
                plan=second.plan,
                priority=2,
                effective_date=dos - dt.timedelta(days=rng.randint(30, 1500)),
            )
        )
    medicare = payer is MEDICARE

    # What happened.
    v = _Visit()
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

    _distinct_injection(v)
    return EncounterCreated(
        encounter_id=_encounter_id(tenant, dos, seed, index),
        patient=patient,
        guarantor=guarantor,
        coverages=coverages,
        rendering_provider=rng.choice(RENDERING_PROVIDERS),
        billing_provider=BILLING_PROVIDER,
        place_of_service=PLACE_OF_SERVICE,
        date_of_service=dos,
        diagnoses=v.diagnoses[:12],
        lines=v.lines,
        documentation=Documentation(
            visit_type=v.visit_type,
            new_patient=v.new_patient,
            mdm_level=v.mdm,
            total_minutes=v.minutes,
        ),
    )


def generate_day(
    n: int,
    seed: int,
    *,
    tenant: str = "demo-clinic",
    date_of_service: dt.date | None = None,
) -> list[EncounterCreated]:
    """``n`` synthetic family-medicine encounters for one day, deterministic for ``seed``."""
    if n < 0:
        raise ValueError("n must be >= 0")
    dos = date_of_service or DEFAULT_DATE_OF_SERVICE
    return [_one(i, seed, tenant, dos) for i in range(n)]


__all__ = [
    "BILLING_PROVIDER",
    "CHARGE_MASTER",
    "DEFAULT_DATE_OF_SERVICE",
    "PAYERS",
    "RENDERING_PROVIDERS",
    "Payer",
    "generate_day",
    "is_valid_npi",
    "make_npi",
    "npi_check_digit",
]


def assumed_eligible(enc: EncounterCreated, claim_id: str) -> EligibilityChecked:
    """The encounter as eligibility passes it on when its primary coverage is active
    (self-pay when it has none): for tools and benchmarks that start at coding."""
    primary = min(enc.coverages, key=lambda c: c.priority) if enc.coverages else None
    return EligibilityChecked(
        claim_id=claim_id,
        encounter_id=enc.encounter_id,
        active=True,
        self_pay=primary is None,
        payer_id=primary.payer_id if primary else None,
        payer_name=primary.payer_name if primary else None,
        plan=primary.plan if primary else None,
        member_id=primary.member_id if primary else None,
        encounter=enc,
    )
