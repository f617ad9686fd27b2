"""Patient money: payments taken by the practice, and a claim's balance reaching zero."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import Field

from schemas.common import Cents
from schemas.events import Event


class PaymentMethod(StrEnum):
    card = "card"
    ach = "ach"
    check = "check"
    cash = "cash"


class PatientPaymentReceived(Event):
    """A guarantor paid; statements posts it to the ledger (oldest balance first)."""

    TYPE = "rcm.patient.payment.received.v1"
    TOPIC = "patient.payment.received"
    KEY_FIELD = "guarantor_id"

    payment_id: str = Field(min_length=1, max_length=64, description="Idempotency key")
    guarantor_id: str
    amount_cents: Cents = Field(gt=0)
    method: PaymentMethod
    received_at: dt.datetime
    claim_id: str | None = Field(default=None, description="Apply to this claim first")
    reference: str | None = Field(default=None, max_length=80)


class ClaimBalanceZero(Event):
    """Every party has paid or been adjusted: the claim's saga can close."""

    TYPE = "rcm.claim.balance_zero.v1"
    TOPIC = "claim.balance_zero"
    KEY_FIELD = "claim_id"

    claim_id: str
    guarantor_id: str
    closed_by: str = Field(pattern=r"^(insurance|patient_payment|write_off|credit)$")
    at: dt.datetime
