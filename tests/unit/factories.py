"""Small builders for contract objects in tests. Synthetic data only, no PHI."""

from __future__ import annotations

import datetime as dt
from typing import Any

from schemas.common import Address, Coverage, Person, Provider, Relationship, Sex
from schemas.events import ClaimCoded, ClaimLine

DOS = dt.date(2025, 3, 14)


def address(**overrides: Any) -> Address:
    fields: dict[str, Any] = {
        "line1": "100 MAIN ST",
        "city": "SPRINGFIELD",
        "state": "IL",
        "postal_code": "62701",
    }
    fields.update(overrides)
    return Address(**fields)


def person(**overrides: Any) -> Person:
    fields: dict[str, Any] = {
        "id": "MRN0001",
        "first_name": "Alex",
        "last_name": "Rivera",
        "birth_date": dt.date(1980, 5, 17),
        "sex": Sex.female,
        "address": address(),
    }
    fields.update(overrides)
    return Person(**fields)


def billing_provider(**overrides: Any) -> Provider:
    fields: dict[str, Any] = {
        "npi": "1234567893",
        "name": "Example Family Practice",
        "tax_id": "123456789",
        "taxonomy": "207Q00000X",
        "address": address(line1="500 CLINIC WAY", postal_code="627010001"),
    }
    fields.update(overrides)
    return Provider(**fields)


def rendering_provider(**overrides: Any) -> Provider:
    fields: dict[str, Any] = {
        "npi": "1987654328",
        "name": "Chen",
        "first_name": "Dana",
        "taxonomy": "207Q00000X",
    }
    fields.update(overrides)
    return Provider(**fields)


def coverage(**overrides: Any) -> Coverage:
    fields: dict[str, Any] = {
        "payer_id": "ACME1",
        "payer_name": "Acme Health Plan",
        "member_id": "XYZ123456789",
        "group_number": "GRP001",
        "plan": "PPO",
        "effective_date": dt.date(2025, 1, 1),
        "filing_indicator": "CI",  # as the claims batcher sets it from the payer directory
    }
    fields.update(overrides)
    return Coverage(**fields)


def dependent_coverage(subscriber: Person | None = None, **overrides: Any) -> Coverage:
    sub = subscriber or person(
        id="MRN0900",
        first_name="Jordan",
        last_name="Rivera",
        birth_date=dt.date(1978, 2, 2),
        sex=Sex.male,
    )
    overrides.setdefault("relationship", Relationship.child)
    return coverage(subscriber=sub, **overrides)


def line(n: int = 1, **overrides: Any) -> ClaimLine:
    fields: dict[str, Any] = {
        "line_number": n,
        "procedure_code": "99213",
        "units": 1,
        "charge_cents": 12500,
        "diagnosis_pointers": [1],
        "service_date": DOS,
    }
    fields.update(overrides)
    return ClaimLine(**fields)


def claim(n: int = 1, lines: list[ClaimLine] | None = None, **overrides: Any) -> ClaimCoded:
    """A valid ClaimCoded; total_charge_cents follows the lines unless overridden."""
    body = lines if lines is not None else [line()]
    fields: dict[str, Any] = {
        "claim_id": f"clm-{n:04d}",
        "encounter_id": f"enc-{n:04d}",
        "patient_control_number": f"PCN{n:06d}",
        "coverage": coverage(),
        "patient": person(),
        "billing_provider": billing_provider(),
        "rendering_provider": rendering_provider(),
        "place_of_service": "11",
        "date_of_service": DOS,
        "diagnoses": ["J06.9"],
        "lines": body,
        "total_charge_cents": sum(x.charge_cents for x in body),
    }
    fields.update(overrides)
    return ClaimCoded(**fields)
