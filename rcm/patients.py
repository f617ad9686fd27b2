"""The demo's synthetic patients: who comes in, and the coverage they carry.

Names and addresses are combined from small built-in lists; member ids are shaped like
each payer's (a Medicare MBI, ...) but made up. About 2% of coverages ended before the
date of service, for eligibility to catch. Every choice comes from the ``rng`` passed
in, in a fixed order, so a patient is deterministic for its seed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from dataclasses import dataclass

from rcm.practice import HDHP, MEDICAID, MEDICAID_QMB, MEDICARE, MEDIGAP, PPO, Payer
from schemas.common import Address, Coverage, Person, Relationship, Sex

# Names

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


def _age_on(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


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
    if payer in (MEDICAID, MEDICAID_QMB):
        return "MC" + _digits(rng, 9)
    if payer is MEDIGAP:
        return "MG" + _digits(rng, 9)
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
    email, paperless = _contact(pid, first, last)
    return Person(
        id=pid,
        first_name=first,
        last_name=last,
        birth_date=birth,
        sex=sex,
        address=address,
        email=email,
        paperless=paperless,
    )


def _contact(pid: str, first: str, last: str) -> tuple[str | None, bool]:
    """About half the practice's people gave an email, and about half of those chose
    paperless statements. Drawn from the person's id, not the day's generator, so the
    rest of the day is the same with or without it."""
    h = int.from_bytes(hashlib.sha256(pid.encode()).digest()[:4], "big")
    if h % 100 >= 50:
        return None, False
    local = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
    return f"{local}{h % 97}@example.com", h % 100 < 25


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


@dataclass(frozen=True)
class Insured:
    """A patient, who pays for them, and their coverages (primary first)."""

    patient: Person
    guarantor: Person | None
    coverages: list[Coverage]
    age: int  # whole years on the date of service
    medicare: bool  # Medicare is the primary payer


def insured(rng: random.Random, dos: dt.date) -> Insured:
    """A patient seen on ``dos``: age group drives payer and, later, visit content."""
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
    payer, guarantor, coverages = _coverages(rng, dos, patient, age)
    return Insured(patient, guarantor, coverages, age, payer is MEDICARE)


def _coverages(
    rng: random.Random, dos: dt.date, patient: Person, age: int
) -> tuple[Payer, Person | None, list[Coverage]]:
    """The primary payer, the guarantor (a parent for a minor), and the coverages."""
    sex, last, address, birth = patient.sex, patient.last_name, patient.address, patient.birth_date
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
    if (payer is MEDICARE and secondary_roll < 0.40) or (
        payer in (PPO, HDHP) and relationship is Relationship.self_ and secondary_roll < 0.02
    ):
        # a Medicare patient: Medicaid as a QMB (10 %), else a Medigap plan (30 %)
        second = (
            (MEDICAID_QMB if secondary_roll < 0.10 else MEDIGAP)
            if payer is MEDICARE
            else (HDHP if payer is PPO else PPO)
        )
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
    return payer, guarantor, coverages
