"""An 835 as JSON (what ``rcm x12 parse-835`` prints): amounts as the file states them.

``to_json`` builds the whole document; ``write_json`` writes the same document claim by
claim, for a file whose claims are handed over one at a time and never all held."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from typing import IO, Any

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


def _rest(rem: Remittance) -> dict[str, Any]:
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
    rest = _rest(rem)
    return {
        "payments": rest["payments"],
        "claims": [claim_json(c) for c in rem.claims],
        "provider_adjustments": rest["provider_adjustments"],
        "warnings": rest["warnings"],
    }


class ClaimsJson:
    """Claims written as they come, to a temporary file (on disk, not in memory), and
    the whole document written out once the file was read to its end: nothing is
    printed for a file that turns out unreadable."""

    def __init__(self) -> None:
        self.spool: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self.count = 0

    def __call__(self, c: RemitClaim) -> None:
        self.spool.write(",\n" if self.count else "\n")
        self.spool.write(_indented(claim_json(c), 4))
        self.count += 1

    def write(self, rem: Remittance, out: IO[str], extra: dict[str, Any]) -> None:
        """The document (payments, claims, provider adjustments, warnings, then ``extra``)."""
        rest = {**_rest(rem), **extra}
        out.write('{\n  "payments": ' + _indented(rest.pop("payments"), 2).lstrip())
        out.write(',\n  "claims": [')
        self.spool.seek(0)
        shutil.copyfileobj(self.spool, out)
        out.write("\n  ]" if self.count else "]")
        for key, value in rest.items():
            out.write(f",\n  {json.dumps(key)}: " + _indented(value, 2).lstrip())
        out.write("\n}\n")

    def close(self) -> None:
        self.spool.close()


def _indented(value: Any, by: int) -> str:
    pad = " " * by
    return "\n".join(pad + line for line in json.dumps(value, indent=2).split("\n"))


def stream(on_claim: Callable[[RemitClaim], None], *also: Callable[[RemitClaim], None]) -> Any:
    """One claim handler calling each of ``on_claim`` and ``also`` in turn."""

    def each(c: RemitClaim) -> None:
        on_claim(c)
        for f in also:
            f(c)

    return each
