"""The claim saga's states: owned by the claims service, read by the gateway and ops."""

from __future__ import annotations

from enum import StrEnum


class ClaimState(StrEnum):
    RECEIVED = "RECEIVED"
    ELIGIBLE = "ELIGIBLE"
    HELD = "HELD"
    CODED = "CODED"
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    PAID = "PAID"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    DENIED = "DENIED"
    PATIENT_BILLED = "PATIENT_BILLED"
    CLOSED = "CLOSED"
