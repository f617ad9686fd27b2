"""Claim events for the reporting tests: one small day a billing manager can check by hand."""

from __future__ import annotations

from typing import Any

from schemas.common import Adjustment
from schemas.events import (
    AckKind,
    AdjudicatedLine,
    AdjudicationStatus,
    ClaimAcknowledged,
    ClaimAdjudicated,
    ClaimSubmitted,
)

CONTROL = {"interchange_control_number": "000000101", "group_control_number": "101"}


def submitted(claim_id: str, payer: str, charge: int, frequency: str = "1") -> ClaimSubmitted:
    return ClaimSubmitted(
        claim_id=claim_id,
        patient_control_number=claim_id,
        payer_id=payer,
        transaction_control_number="0001",
        frequency_code=frequency,
        total_charge_cents=charge,
        x12="ISA*00*" + "X" * 120 + "~",
        **CONTROL,
    )


def ack(claim_id: str, kind: AckKind, accepted: bool) -> ClaimAcknowledged:
    return ClaimAcknowledged(
        claim_id=claim_id,
        patient_control_number=claim_id,
        kind=kind,
        accepted=accepted,
        x12="ISA*00*~",
    )


def adjudicated(
    claim_id: str,
    payer: str,
    status: AdjudicationStatus,
    *,
    charge: int,
    paid: int,
    patient: int = 0,
    line_adjustments: tuple[tuple[str, str, int], ...] = (),
) -> ClaimAdjudicated:
    adjustments = [Adjustment(group=g, reason=r, amount_cents=a) for g, r, a in line_adjustments]
    fields: dict[str, Any] = {
        "claim_id": claim_id,
        "patient_control_number": claim_id,
        "payer_id": payer,
        "trace_number": f"TRN-{claim_id}",
        "status": status,
        "claim_status_code": {"denied": "4", "reversed": "22"}.get(status.value, "1"),
        "charge_cents": charge,
        "paid_cents": paid,
        "patient_responsibility_cents": patient,
        "lines": [
            AdjudicatedLine(
                line_number=1,
                procedure_code="99213",
                charge_cents=charge,
                paid_cents=paid,
                adjustments=adjustments,
            )
        ],
    }
    return ClaimAdjudicated(**fields)
