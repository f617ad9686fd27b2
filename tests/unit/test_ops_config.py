"""Ops settings and scopes: stuck limits per saga state, and what an ops key may open."""

import pytest
from pydantic import ValidationError

from schemas.states import ClaimState
from services.gateway.config import GatewaySettings, parse_limits
from services.gateway.keys import Principal, Scope, parse_scopes

pytestmark = pytest.mark.unit


def test_the_demo_limits_cover_every_state_a_claim_should_leave_on_its_own() -> None:
    limits = GatewaySettings().stuck_limits()
    assert limits["SUBMITTED"] == 300  # 999/277CA resent every 60 s three times, then stuck
    assert set(limits) == set(ClaimState) - {"PATIENT_BILLED", "CLOSED"}
    assert all(v > 0 for v in limits.values())


def test_limits_are_state_seconds_pairs_and_a_typo_is_refused() -> None:
    assert parse_limits("submitted:172800, ACCEPTED:3888000") == {
        "SUBMITTED": 172800,
        "ACCEPTED": 3888000,
    }
    for bad in ("SUBMITED:60", "SUBMITTED", "SUBMITTED:-5", "SUBMITTED:0", "SUBMITTED:1h"):
        with pytest.raises(ValueError, match="SUBMIT"):
            parse_limits(bad)
    with pytest.raises(ValidationError):
        GatewaySettings(ops_stuck_limits="HELD:ten")


def test_an_ops_key_opens_ops_only_and_admin_opens_ops_too() -> None:
    assert parse_scopes("ops") == ["ops"]
    ops = Principal("k", "t", frozenset({"ops"}), 10)
    assert ops.allows(Scope.ops)
    assert not ops.allows(Scope.read, Scope.work, Scope.intake)
    assert Principal("k", "t", frozenset({"admin"}), 10).allows(Scope.ops)
    assert not Principal("k", "t", frozenset({"read"}), 10).allows(Scope.ops)
