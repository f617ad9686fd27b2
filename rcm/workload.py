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

from rcm.patients import insured
from rcm.practice import BILLING_PROVIDER, PLACE_OF_SERVICE, RENDERING_PROVIDERS
from rcm.visits import visit
from schemas.common import Documentation
from schemas.events import EligibilityChecked, EncounterCreated

DEFAULT_DATE_OF_SERVICE = dt.date(2026, 4, 6)


def _encounter_id(tenant: str, dos: dt.date, seed: int, index: int) -> str:
    h = hashlib.sha256(f"{tenant}|{dos.isoformat()}|{seed}".encode()).hexdigest()[:8]
    return f"E{dos:%Y%m%d}-{h}-{index:05d}"


def _rng(tenant: str, dos: dt.date, seed: int, index: int) -> random.Random:
    return random.Random(f"{tenant}|{dos.isoformat()}|{seed}|{index}")


def _one(index: int, seed: int, tenant: str, dos: dt.date) -> EncounterCreated:
    rng = _rng(tenant, dos, seed, index)
    october_to_march = dos.month >= 10 or dos.month <= 3
    who = insured(rng, dos)
    v = visit(rng, age=who.age, medicare=who.medicare, october_to_march=october_to_march)
    return EncounterCreated(
        encounter_id=_encounter_id(tenant, dos, seed, index),
        patient=who.patient,
        guarantor=who.guarantor,
        coverages=who.coverages,
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
