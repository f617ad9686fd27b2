"""An 835 as JSON (what ``rcm x12 parse-835`` prints): amounts as the file states them.

``to_json`` builds the whole document; ``claim_json`` and ``rest_json`` are its parts,
for writing a large file's claims one at a time (rcm/jsonspool.py)."""

from __future__ import annotations

from typing import Any

from services.remittance.x12_835.model import Cas, RemitClaim, Remittance


def _cas_json(items: tuple[Cas, ...]) -> list[dict[str, Any]]:
    return [{"group": a.group, "reason": a.reason, "amount": a.amount.text} for a in items]


def claim_json(c: RemitClaim) -> dict[str, Any]:
    return {
        "patient_control_number": c.patient_control_number,
        "status": c.status_code,
        "charge": c.charge.text,
        "paid": c.paid.text,
        "patient_responsibility": (
            c.patient_responsibility.text if c.patient_responsibility else None
        ),
        "payer_claim_number": c.payer_claim_number,
        "adjustments": _cas_json(c.adjustments),
        "lines": [
            {
                "procedure": ln.procedure,
                "modifiers": list(ln.modifiers),
                "charge": ln.charge.text,
                "paid": ln.paid.text,
                "allowed": ln.allowed.text if ln.allowed else None,
                "units": ln.units,
                "adjustments": _cas_json(ln.adjustments),
                "remarks": list(ln.remarks),
            }
            for ln in c.lines
        ],
    }


def rest_json(rem: Remittance) -> dict[str, Any]:
    """Everything but the claims."""
    return {
        "payments": [
            {
                "amount": p.amount.text,
                "method": p.method,
                "date": p.date.isoformat() if p.date else None,
                "trace": p.trace_number,
            }
            for p in rem.payments
        ],
        "provider_adjustments": [
            {
                "provider": p.provider_id,
                "reason": p.reason,
                "reference": p.reference,
                "amount": p.amount.text,
            }
            for p in rem.provider_adjustments
        ],
        "warnings": [w.as_json() for w in rem.warnings],
    }


def to_json(rem: Remittance) -> dict[str, Any]:
    """A JSON-ready dict; amounts are the decimal text exactly as the file states them."""
    rest = rest_json(rem)
    return {
        "payments": rest["payments"],
        "claims": [claim_json(c) for c in rem.claims],
        "provider_adjustments": rest["provider_adjustments"],
        "warnings": rest["warnings"],
    }
