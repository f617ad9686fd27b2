"""The rules of people's commands on a patient account (issue 29 parts 4, 6, 7). Pure.

- A write-off, a transfer or a refund above the requester's role limit waits for the
  approval of someone else whose role's limit covers it (``approval``).
- A write-off takes at most the claim's balance; a transfer to the payer at most what the
  patient owes on the claim, to the patient at most what the payers adjusted off it.
- A refund takes at most the account's credit; credit applied goes to open balances,
  the patient's chosen claim first, then oldest first.
- An agency's payment is the patient's payment (the whole amount collected); the
  agency's fee is the practice's cost and never on the patient's ledger.

Each returns the postings, as (claim id or None for the account, Entry), or raises
``Refused`` with a reason that names no person.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.statements.domain import Entry, Totals, allocate

#: The reason of a balance written off by the statement cycle for being too small to bill.
SMALL_BALANCE = "SMALL-BALANCE"

Posting = tuple[str | None, Entry]


class Refused(ValueError):
    """The command cannot be posted as given; the message says why (no PHI)."""


def needs_approval(amount_cents: int, role: str, limits: Mapping[str, int]) -> bool:
    return amount_cents > limits.get(role, -1)


def approval(
    amount_cents: int,
    requested_by: str,
    approver: str,
    approver_role: str,
    limits: Mapping[str, int],
) -> None:
    """Raises ``Refused`` unless ``approver`` may approve this request."""
    if approver == requested_by:
        raise Refused("a request is approved by someone other than its requester")
    if needs_approval(amount_cents, approver_role, limits):
        raise Refused(f"role {approver_role} may approve at most {limits.get(approver_role, 0)}")


def write_off(claim_id: str, t: Totals, amount_cents: int, reason: str) -> list[Posting]:
    if amount_cents <= 0:
        raise Refused("a write-off needs a positive amount")
    if amount_cents > t.balance_cents:
        raise Refused(f"write-off {amount_cents} is more than the balance {t.balance_cents}")
    return [(claim_id, Entry("write_off", -amount_cents, reason))]


def transfer(
    claim_id: str, t: Totals, amount_cents: int, direction: str, reason: str
) -> list[Posting]:
    """Moves ``amount_cents`` of the claim between the payers' side (adjusted off) and the
    patient's responsibility."""
    if amount_cents <= 0:
        raise Refused("a transfer needs a positive amount")
    if direction == "to_payer":
        if amount_cents > t.balance_cents:
            raise Refused(f"transfer {amount_cents} is more than the balance {t.balance_cents}")
        return [(claim_id, Entry("transfer", -amount_cents, f"TO-PAYER {reason}"))]
    if direction == "to_patient":
        if amount_cents > t.adjustments_cents:
            raise Refused(
                f"transfer {amount_cents} is more than the payers adjusted ({t.adjustments_cents})"
            )
        return [(claim_id, Entry("transfer", amount_cents, f"TO-PATIENT {reason}"))]
    raise Refused("a transfer names its direction: to_payer or to_patient")


def refund(credit_cents: int, amount_cents: int, reason: str) -> list[Posting]:
    """The account's credit (``credit_cents``, positive) paid back: it leaves the ledger."""
    if amount_cents <= 0:
        raise Refused("a refund needs a positive amount")
    if amount_cents > credit_cents:
        raise Refused(f"refund {amount_cents} is more than the credit {credit_cents}")
    return [(None, Entry("refund", amount_cents, reason))]


def apply_credit(
    credit_cents: int,
    open_balances: Sequence[tuple[str, int]],
    amount_cents: int,
    preferred: str | None,
) -> list[Posting]:
    """The account's credit applied to open balances (all of it when ``amount_cents`` is 0)."""
    want = amount_cents or credit_cents
    if credit_cents <= 0:
        raise Refused("the account has no credit")
    if want > credit_cents:
        raise Refused(f"{want} is more than the credit {credit_cents}")
    allocations, _ = allocate(want, open_balances, preferred)
    if not allocations:
        raise Refused("the account has no open balance")
    out: list[Posting] = []
    for claim_id, cents in allocations:
        out.append((claim_id, Entry("credit_applied", -cents, "account credit")))
        out.append((None, Entry("credit_applied", cents, f"to {claim_id}")))
    return out


def agency_payment(
    open_balances: Sequence[tuple[str, int]], collected_cents: int, reason: str
) -> list[Posting]:
    """What an agency collected, on the open balances oldest first; any excess is a credit."""
    if collected_cents <= 0:
        raise Refused("an agency payment needs a positive amount")
    allocations, left = allocate(collected_cents, open_balances)
    out: list[Posting] = [(c, Entry("patient_payment", -cents, reason)) for c, cents in allocations]
    if left:
        out.append((None, Entry("patient_payment", -left, reason)))
    return out
