"""Commands on a patient account's ledger, done by people (or an agency's file): write-offs,
transfers between payer and patient responsibility, refunds of credit balances, credit
applied to open balances by the patient's choice, approvals, and payments a collection
agency received. The statements service applies each once (by ``command_id``)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import Field

from schemas.common import Cents
from schemas.events import Event


class LedgerAction(StrEnum):
    write_off = "write_off"  # the claim's balance (part of it) is forgiven, with a reason
    transfer = "transfer"  # moved between payer and patient responsibility (``direction``)
    refund = "refund"  # the account's credit paid back to the guarantor
    apply_credit = "apply_credit"  # the account's credit applied to open balances
    approve = "approve"  # a request above its requester's limit, approved (``request_id``)
    reject = "reject"  # likewise, rejected: nothing is posted
    agency_payment = "agency_payment"  # an agency collected from a placed account


class TransferDirection(StrEnum):
    to_patient = "to_patient"  # the payer's side of the claim becomes the patient's to pay
    to_payer = "to_payer"  # the patient's share goes back to insurance (to bill or appeal)


#: Reason codes: letters, digits and dashes (BAD-DEBT, CHARITY, SMALL-BALANCE, ...).
REASON = r"^[A-Z0-9][A-Z0-9-]{1,29}$"


class LedgerCommand(Event):
    """A person's (or an agency file's) command on one guarantor's account."""

    TYPE = "rcm.ledger.command.v1"
    TOPIC = "ledger.command"
    KEY_FIELD = "guarantor_id"

    command_id: str = Field(min_length=1, max_length=64, description="Idempotency key")
    guarantor_id: str = Field(min_length=1, max_length=64)
    action: LedgerAction
    claim_id: str | None = Field(
        default=None, max_length=64, description="The claim (write-off, transfer; first for credit)"
    )
    amount_cents: Cents = Field(default=0, description="Zero for approve and reject")
    reason: str = Field(default="ADMIN", pattern=REASON, description="The reason code")
    direction: TransferDirection | None = None
    request_id: str | None = Field(
        default=None, max_length=64, description="approve/reject: the command_id decided"
    )
    requested_by: str = Field(min_length=1, max_length=100, description="User or API key id")
    role: str = Field(
        min_length=1, max_length=30, description="The requester's role: its approval limit"
    )
    at: dt.datetime
    agency: str | None = Field(default=None, max_length=60)
    fee_cents: Cents = Field(default=0, description="agency_payment: the agency's fee")
    note: str = Field(default="", max_length=300)
