"""Event builders for tests, on top of tests/unit/factories.py. Synthetic data only."""

from __future__ import annotations

import datetime as dt
from typing import Any

from schemas.common import Documentation, ServiceLine, VisitType
from schemas.events import EncounterCreated
from tests.unit.factories import billing_provider, coverage, person, rendering_provider


def encounter(**overrides: Any) -> EncounterCreated:
    fields: dict[str, Any] = {
        "encounter_id": "E-0001",
        "patient": person(),
        "coverages": [coverage(payer_id="PPO01", payer_name="BLUE MEADOW PPO")],
        "rendering_provider": rendering_provider(),
        "billing_provider": billing_provider(),
        "place_of_service": "11",
        "date_of_service": dt.date(2025, 3, 14),
        "diagnoses": ["J02.9"],
        "lines": [
            ServiceLine(procedure_code="99213", charge_cents=15000, diagnosis_codes=["J02.9"])
        ],
        "documentation": Documentation(visit_type=VisitType.problem, mdm_level="low"),
    }
    fields.update(overrides)
    return EncounterCreated(**fields)
