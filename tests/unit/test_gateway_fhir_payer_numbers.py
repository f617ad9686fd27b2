"""FHIR R4 Claim -> the encounter's prior-authorization and referral numbers
(Claim.insurance.preAuthRef, Claim.referral), which the 837P sends as REF*G1 / REF*9F."""

from __future__ import annotations

from typing import Any

import pytest

from services.gateway import fhir
from tests.fhir_data import fhir_bundle

pytestmark = pytest.mark.unit


def bundle(**claim_fields: Any) -> dict[str, Any]:
    b = fhir_bundle(
        "enc-auth",
        dx_system="http://hl7.org/fhir/sid/icd-10-cm",
        dx_code="M54.16",
        proc_system="http://www.ama-assn.org/go/cpt",
        proc="72148",
    )
    claim = next(e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "Claim")
    claim.update(claim_fields)
    return b


def test_the_focal_insurances_authorization_and_the_referral_are_read() -> None:
    [m] = fhir.map_bundle(
        bundle(
            insurance=[
                {"sequence": 2, "focal": False, "coverage": {"display": "X"}, "preAuthRef": ["NO"]},
                {
                    "sequence": 1,
                    "focal": True,
                    "coverage": {"display": "BLUE MEADOW PPO"},
                    "preAuthRef": ["PA2026-0001", "PA-OLD"],
                },
            ],
            referral={"identifier": {"system": "urn:referrals", "value": "REF-20260401"}},
        )
    )
    assert m.encounter is not None, m.holds
    assert m.encounter.prior_authorization == "PA2026-0001"
    assert m.encounter.referral_number == "REF-20260401"


def test_a_claim_without_them_maps_to_none() -> None:
    [m] = fhir.map_bundle(bundle())
    assert m.encounter is not None
    assert (m.encounter.prior_authorization, m.encounter.referral_number) == (None, None)


def test_an_authorization_the_837_cannot_carry_is_held_naming_the_field() -> None:
    [m] = fhir.map_bundle(
        bundle(
            insurance=[
                {"sequence": 1, "focal": True, "coverage": {"display": "P"}, "preAuthRef": ["A*1"]}
            ]
        )
    )
    assert m.encounter is None
    assert [h.code for h in m.holds] == ["FHIR-INCOMPLETE"]
    assert "prior_authorization" in m.holds[0].message
    assert "A*1" not in m.holds[0].message
