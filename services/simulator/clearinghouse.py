"""The clearinghouse's rules, pure: how an interchange is told apart from another,
which claims its front end rejects, and the claim statuses a received 837P interchange
gives (its 999 and 277CA files: services/simulator/answers.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from runtime.x12 import ISA_LENGTH, delimiters_of
from services.simulator.config import SimulatorSettings
from services.simulator.model import ClaimIn
from services.simulator.payers import PAYERS
from services.simulator.x12_277ca import ClaimAck, StatusReason

CLEARINGHOUSE_ID = "SIMCLEARHOUSE"
CLEARINGHOUSE_NAME = "SIM CLEARINGHOUSE"

#: (payer id, CLM01, member id, charge, first day, last day, 277CA category, code)
StatusRow = tuple[str, str, str, int, dt.date, dt.date, str | None, str | None]


def interchange_id(text: str) -> tuple[str, str]:
    """(ISA06 sender, ISA13 control number), read from the ISA alone."""
    d = delimiters_of(text)
    isa = text[text.find("ISA") :][:ISA_LENGTH].split(d.element)
    return isa[6].strip(), isa[13].strip()


def npi_is_valid(npi: str) -> bool:
    """Ten digits whose last is the Luhn check digit over 80840 + the first nine."""
    if len(npi) != 10 or not npi.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed("80840" + npi[:9])):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return (10 - total % 10) % 10 == int(npi[9])


def front_end_edits(claim: ClaimIn, known_payers: Collection[str]) -> tuple[StatusReason, ...]:
    """The clearinghouse's claim-level edits; any reason rejects the claim on the 277CA.

    Category A3 (returned as unprocessable) with the claim status code that names what
    is wrong and, where it helps, the entity it is wrong for.
    """
    reasons: list[StatusReason] = []
    if claim.payer_id not in known_payers:
        reasons.append(StatusReason("A3", "116", "PR", f"unknown payer id {claim.payer_id!r}"))
    if not claim.member_id:
        reasons.append(StatusReason("A3", "164", "IL", "member id missing"))
    if not npi_is_valid(claim.billing_npi):
        reasons.append(
            StatusReason("A3", "562", "85", f"invalid billing NPI {claim.billing_npi!r}")
        )
    line_total = sum(ln.charge_cents for ln in claim.lines)
    if line_total != claim.total_charge_cents:
        reasons.append(
            StatusReason(
                "A3", "178", None, f"CLM02 {claim.total_charge_cents} != lines {line_total}"
            )
        )
    return tuple(reasons)


def edits(claim: ClaimIn, cfg: SimulatorSettings) -> tuple[StatusReason, ...]:
    """The front-end edits as configured."""
    reasons = front_end_edits(claim, PAYERS)
    if cfg.front_end_edits:
        return reasons
    # With the edits off, only an unknown payer is still rejected: there is no one to send
    # the claim to.
    return tuple(r for r in reasons if r.code == "116")


def received_statuses(acks: list[ClaimAck]) -> list[StatusRow]:
    """Each acknowledged claim as the payer's claim status will know it."""
    rows: list[StatusRow] = []
    for ack in acks:
        c = ack.claim
        days = [ln.service_date or c.date_of_service for ln in c.lines]
        rows.append(
            (
                c.payer_id,
                c.patient_control_number,
                c.member_id,
                c.total_charge_cents,
                min(days),
                max(days),
                ack.reasons[0].category if ack.reasons else None,
                ack.reasons[0].code if ack.reasons else None,
            )
        )
    return rows
