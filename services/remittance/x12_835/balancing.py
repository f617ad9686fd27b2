"""835 balancing: the payment against its claims and provider adjustments, each claim
and each service line against its adjustments, to the cent."""

from __future__ import annotations

from typing import Any, NamedTuple

from services.remittance.x12_835.model import RemitClaim, Remittance


def _fmt(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


class Discrepancy(NamedTuple):
    """One broken balancing rule, exactly: where, what was expected, what the file says."""

    scope: str  # payment | claim | line
    trace_number: str
    patient_control_number: str | None
    line: int | None
    segment: int
    expected_cents: int
    actual_cents: int
    off_by_cents: int  # the gap the message states
    message: str

    def as_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "trace_number": self.trace_number,
            "patient_control_number": self.patient_control_number,
            "line": self.line,
            "segment": self.segment,
            "expected_cents": self.expected_cents,
            "actual_cents": self.actual_cents,
            "off_by_cents": self.off_by_cents,
            "message": self.message,
        }


def balance_discrepancies(rem: Remittance) -> list[Discrepancy]:
    """Every broken 835 balancing rule. Empty when the file balances.

    - per transaction: BPR02 = sum(CLP04) - sum(PLB amounts)
    - per claim: CLP03 - CLP04 = sum of claim and line CAS amounts
    - per line: SVC02 - SVC03 = sum of that line's CAS amounts

    For a claim or line, ``expected_cents`` is charge - paid, ``actual_cents`` the sum of
    the adjustments and ``off_by_cents`` expected - actual; for a payment, expected is
    claims paid - PLB, actual is BPR02 and off_by is actual - expected.
    """
    check = Balance()
    for c in rem.claims:
        check.claim(c)
    return check.finish(rem)


class Balance:
    """The balancing check claim by claim, as a reader hands them over (the claims of a
    large file are never all held), then the payments at the end."""

    def __init__(self) -> None:
        self.found: list[Discrepancy] = []
        self.paid: dict[int, int] = {}  # claims paid per transaction

    def claim(self, c: RemitClaim) -> None:
        out = self.found
        self.paid[c.transaction] = self.paid.get(c.transaction, 0) + c.paid.cents
        line_cas = 0
        for k, ln in enumerate(c.lines, start=1):
            cas = sum(a.amount.cents for a in ln.adjustments)
            line_cas += cas
            gap = ln.charge.cents - ln.paid.cents - cas
            if gap:
                out.append(
                    Discrepancy(
                        "line",
                        c.trace_number,
                        c.patient_control_number,
                        k,
                        ln.segment,
                        ln.charge.cents - ln.paid.cents,
                        cas,
                        gap,
                        f"claim {c.patient_control_number} line {k} ({ln.procedure}, segment "
                        f"{ln.segment}): charge {_fmt(ln.charge.cents)} - paid "
                        f"{_fmt(ln.paid.cents)} = {_fmt(ln.charge.cents - ln.paid.cents)} but "
                        f"its adjustments total {_fmt(cas)}, off by {gap} cents",
                    )
                )
        cas = sum(a.amount.cents for a in c.adjustments) + line_cas
        gap = c.charge.cents - c.paid.cents - cas
        if gap:
            out.append(
                Discrepancy(
                    "claim",
                    c.trace_number,
                    c.patient_control_number,
                    None,
                    c.segment,
                    c.charge.cents - c.paid.cents,
                    cas,
                    gap,
                    f"claim {c.patient_control_number} (segment {c.segment}): charge "
                    f"{_fmt(c.charge.cents)} - paid {_fmt(c.paid.cents)} = "
                    f"{_fmt(c.charge.cents - c.paid.cents)} but claim and line adjustments total "
                    f"{_fmt(cas)}, off by {gap} cents",
                )
            )

    def finish(self, rem: Remittance) -> list[Discrepancy]:
        """The payments' rule, once every claim was checked; every discrepancy found."""
        out, paid = self.found, self.paid
        plb = [0] * len(rem.payments)
        for p in rem.provider_adjustments:
            plb[p.transaction] += p.amount.cents
        for k, pay in enumerate(rem.payments):
            expected = paid.get(k, 0) - plb[k]
            gap = pay.signed_cents - expected
            if gap:
                out.append(
                    Discrepancy(
                        "payment",
                        pay.trace_number,
                        None,
                        None,
                        pay.segment,
                        expected,
                        pay.signed_cents,
                        gap,
                        f"payment {pay.trace_number} (transaction {pay.control_number}, segment "
                        f"{pay.segment}): BPR02 {_fmt(pay.signed_cents)} but claims paid "
                        f"{_fmt(paid.get(k, 0))} - provider adjustments {_fmt(plb[k])} = "
                        f"{_fmt(expected)}, off by {gap} cents",
                    )
                )
        return out


def balance_problems(rem: Remittance) -> list[str]:
    """Every broken 835 balancing rule, as exact sentences. Empty when the file balances."""
    return [d.message for d in balance_discrepancies(rem)]
