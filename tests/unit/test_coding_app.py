"""The coding service's wiring: what build() consumes, and its knobs from the environment."""

from __future__ import annotations

import pytest

from runtime.settings import Settings
from schemas.events import EligibilityChecked
from schemas.events_workqueue import ClaimFixed
from services.coding import app
from services.coding.config import CodingSettings

pytestmark = pytest.mark.unit


def test_build_consumes_eligibility_checked_and_claim_fixed() -> None:
    svc = app.build(Settings(), CodingSettings(reload_s=5.0))
    assert sorted(svc.handlers) == sorted([EligibilityChecked.TOPIC, ClaimFixed.TOPIC])
    assert svc.schema == "coding"


def test_reload_interval_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert CodingSettings(_env_file=None).reload_s == 300.0
    monkeypatch.setenv("RCM_CODING_RELOAD_S", "5")
    assert CodingSettings(_env_file=None).reload_s == 5.0
