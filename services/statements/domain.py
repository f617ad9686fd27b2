"""Patient A/R: ledger entries from an adjudication, statement figures. Pure."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from schemas.events import ClaimAdjudicated

DUE_DAYS = 30
BUCKETS = ((30, "0-30"), (60, "31-60"), (90, "61-90"), (120, "91-120"))


@dataclass(frozen=True, slots=True)
class Entry:
    kind: str
    amount_cents: int
    reason: str | None = None


def entries_for(adj: ClaimAdjudicated) -> list[Entry]:
    """What the payer's decision does to the patient's account for this claim.

    The charge is posted when the claim is first adjudicated; insurance payment and
    every non-patient adjustment reduce it, so what remains is the patient's share.
    """
    out = [Entry("charge", adj.charge_cents)]
    if adj.paid_cents:
        out.append(Entry("insurance_payment", -adj.paid_cents))
    for a in adj.adjustments:
        if a.group == "PR" or a.amount_cents == 0:
            continue
        kind = "contractual" if a.group == "CO" else "adjustment"
        out.append(Entry(kind, -a.amount_cents, f"{a.group}-{a.reason}"))
    return out


def aging_bucket(service_or_first_billed: dt.date, today: dt.date) -> str:
    days = (today - service_or_first_billed).days
    for limit, label in BUCKETS:
        if days <= limit:
            return label
    return "120+"


def due_date(statement_date: dt.date) -> dt.date:
    return statement_date + dt.timedelta(days=DUE_DAYS)
