"""The payers' rules for one cycle, pure: what they know of members and claims (the
books), each claim's adjudication against them, reversals with corrected payments,
provider-level adjustments (PLB), how an 835 is delivered and the claim status it
leaves. The cycle that reads and writes all this is :mod:`services.simulator.timers`.

Every random choice is drawn from a ``Random`` seeded with the configured seed and a
stable name of what is decided (a claim number, a trace number): a run repeats.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from services.simulator import x12_277
from services.simulator.adjudicate import adjudicate, payer_claim_number, reverse
from services.simulator.config import SimulatorSettings
from services.simulator.model import Accumulators, Adjudication, ClaimIn
from services.simulator.payers import PAYERS, payer, scaled
from services.simulator.x12_835 import ProviderAdjustment, interest, payment_total, recoupment


def payer_delay(cfg: SimulatorSettings, payer_id: str) -> float:
    """Seconds from an accepted claim's receipt to its adjudication."""
    days = PAYERS[payer_id].days_to_pay if payer_id in PAYERS else 0
    return cfg.delay_s + days * cfg.seconds_per_payer_day


@dataclass
class Batch:
    """The claims of one 835: one tenant, payer and payee."""

    results: list[Adjudication]
    cause: str
    traceparent: str | None


#: (payer id, member id, year)
AccumulatorKey = tuple[str, str, int]


class Books:
    """What the payer knows of the members and claims of one cycle: the enrollment
    roster (kept by services/simulator/eligibility.py from encounter.created; a member it
    does not know gets no coverage dates, so CO-26 and CO-27 cannot fire), the members'
    accumulators and the claims already paid. Read at once, changed in memory in
    adjudication order, written back at once (:meth:`changes`)."""

    def __init__(
        self,
        roster: dict[tuple[str, str], tuple[dt.date, dt.date | None]],
        accumulators: dict[AccumulatorKey, Accumulators],
        paid: set[tuple[str, str]],
    ) -> None:
        self.roster = roster
        self.accumulators = accumulators
        self.paid = paid
        self._acc_changed: set[AccumulatorKey] = set()
        self._paid_rows: dict[tuple[str, str], tuple[str, int, str | None, str | None]] = {}

    @staticmethod
    def keys(
        claims: Sequence[tuple[ClaimIn, int]],
    ) -> tuple[list[tuple[str, str]], list[AccumulatorKey], list[tuple[str, str]]]:
        """What to read for these claims, each with the plan year its accumulators count
        in: the members, their accumulator keys, the (payer, CLM01) pairs."""
        members = sorted({(c.payer_id, c.member_id) for c, _ in claims})
        keys = sorted({(c.payer_id, c.member_id, year) for c, year in claims})
        pcns = sorted({(c.payer_id, c.patient_control_number) for c, _ in claims})
        return members, keys, pcns

    @classmethod
    def from_rows(
        cls, roster: Iterable[Sequence[Any]], acc: Iterable[Sequence[Any]], paid: Iterable[Any]
    ) -> Books:
        return cls(
            {(r[0], r[1]): (r[2], r[3]) for r in roster},
            {(r[0], r[1], r[2]): Accumulators(r[2], r[3], r[4]) for r in acc},
            {(r[0], r[1]) for r in paid},
        )

    def with_roster(self, claim: ClaimIn) -> ClaimIn:
        """The claim with the member's coverage dates from the payer's roster."""
        dates = self.roster.get((claim.payer_id, claim.member_id))
        if dates is None:
            return claim
        return replace(claim, coverage_effective=dates[0], coverage_termination=dates[1])

    def accumulators_of(self, claim: ClaimIn, year: int) -> Accumulators:
        return self.accumulators.get((claim.payer_id, claim.member_id, year), Accumulators(year))

    def set_accumulators(self, claim: ClaimIn, a: Accumulators) -> None:
        key = (claim.payer_id, claim.member_id, a.year)
        self.accumulators[key] = a
        self._acc_changed.add(key)

    def pay(
        self,
        claim: ClaimIn,
        payer_claim_number: str,
        paid_cents: int,
        *,
        tenant: str | None = None,
        billing_npi: str | None = None,
    ) -> None:
        key = (claim.payer_id, claim.patient_control_number)
        self.paid.add(key)
        self._paid_rows[key] = (payer_claim_number, paid_cents, tenant, billing_npi)

    def changes(
        self,
    ) -> tuple[list[tuple[str, str, int, int, int]], list[tuple[Any, ...]]]:
        """The accumulator rows and paid-claim rows changed since the last call, in key
        order (the order rows are locked in)."""
        acc = [
            (*k, self.accumulators[k].deductible_met_cents, self.accumulators[k].oop_met_cents)
            for k in sorted(self._acc_changed)
        ]
        paid = [(*k, *v) for k, v in sorted(self._paid_rows.items())]
        self._acc_changed, self._paid_rows = set(), {}
        return acc, paid


def adjudicate_one(
    books: Books, cfg: SimulatorSettings, claim: ClaimIn, today: dt.date, tenant: str
) -> tuple[Adjudication, Accumulators]:
    """The claim's adjudication, and the accumulators it was adjudicated against."""
    acc = books.accumulators_of(claim, claim.date_of_service.year)
    result = adjudicate(
        claim,
        acc,
        today,
        paid_claims=(
            {claim.patient_control_number}
            if (claim.payer_id, claim.patient_control_number) in books.paid
            else set()
        ),
        rng=random.Random(f"{cfg.seed}:{claim.patient_control_number}"),
        denial_rate=cfg.denial_rate,
        denials=cfg.denials(),
    )
    if result.accumulators is not None:
        books.set_accumulators(claim, result.accumulators)
    if result.paid_cents > 0:
        books.pay(
            claim,
            result.payer_claim_number,
            result.paid_cents,
            tenant=tenant,
            billing_npi=claim.billing_npi,
        )
    return result, acc


def crosses_over(cfg: SimulatorSettings, claim: ClaimIn) -> bool:
    """Whether the payer forwards this claim to the next payer itself (when it may)."""
    return random.Random(f"{cfg.seed}:crossover:{claim.patient_control_number}").random() < (
        cfg.crossover_rate
    )


def reversed_later(cfg: SimulatorSettings, claim: ClaimIn, result: Adjudication) -> bool:
    """Whether the payer will reverse this payment and pay it again, corrected."""
    rng = random.Random(f"{cfg.seed}:reverse:{claim.patient_control_number}")
    return result.paid_cents > 0 and rng.random() < cfg.reversal_rate


#: Line denials an appeal may overturn: necessity, non-covered, authorization.
OVERTURNABLE = frozenset({"50", "96", "151", "197", "198"})
#: A ``corrections`` row kept for an appeal (what the original adjudication saw, so it
#: can be reversed exactly): waiting until an appeal arrives, then due, overturned or
#: upheld (services/simulator/appeals.py).
APPEAL_WAIT, APPEAL_OVERTURNED, APPEAL_UPHELD = (
    "appeal-wait:",
    "appeal-overturned:",
    "appeal-upheld:",
)
#: How long a kept row waits for an appeal (Medicare's redetermination period, and more).
APPEAL_WAIT_S = 3 * 365 * 86400.0


def cause_of(event_id: str) -> str:
    """The event that caused a correction (its row's event id without an appeal mark)."""
    for mark in (APPEAL_WAIT, APPEAL_OVERTURNED, APPEAL_UPHELD):
        if event_id.startswith(mark):
            return event_id[len(mark) :]
    return event_id


def appealable(result: Adjudication) -> bool:
    """Does the claim have a line an appeal may overturn?"""
    return any(
        ln.denied and any(a.group == "CO" and a.reason in OVERTURNABLE for a in ln.adjustments)
        for ln in result.lines
    )


def correct(
    books: Books,
    cfg: SimulatorSettings,
    claim: ClaimIn,
    fix: Mapping[str, Any],
    today: dt.date,
) -> list[Adjudication]:
    """The reversal of a paid claim and its corrected payment (a retroactive fee change),
    or an appeal's reprocessing: overturned (the plan's authorization, coverage and
    necessity rules waived for the claim) or upheld (adjudicated as it was).

    ``fix`` is what the original adjudication saw (a ``corrections`` row)."""
    acc_before = Accumulators(fix["acc_year"], fix["acc_deductible_cents"], fix["acc_oop_cents"])
    plan = payer(claim.payer_id)
    original = adjudicate(
        claim,
        acc_before,
        fix["adjudicated_on"],
        plan=plan,
        rng=random.Random(f"{cfg.seed}:{claim.patient_control_number}"),
        denial_rate=cfg.denial_rate,
        denials=cfg.denials(),
    )
    cause = str(fix.get("event_id") or "")
    if cause.startswith(APPEAL_OVERTURNED):
        corrected_plan = replace(
            plan, prior_auth_required=frozenset(), non_covered=frozenset(), necessity={}
        )
    else:
        # the corrected schedule replaces any stale fees too (the reprocessing fixes them)
        corrected_plan = replace(
            plan, fees=scaled(plan.fees, cfg.correction_factor), stale_fees=MappingProxyType({})
        )
    if cause.startswith(APPEAL_UPHELD):
        corrected = original  # the same answer again
    else:
        corrected = adjudicate(claim, acc_before, fix["adjudicated_on"], plan=corrected_plan)
    corrected = replace(
        corrected,
        payer_claim_number=payer_claim_number(replace(claim, frequency_code="7")),
        received=today,
    )
    # The member's accumulators move by the difference the correction made.
    now = books.accumulators_of(claim, fix["acc_year"])
    assert original.accumulators is not None
    assert corrected.accumulators is not None
    books.set_accumulators(
        claim,
        Accumulators(
            now.year,
            now.deductible_met_cents
            + corrected.accumulators.deductible_met_cents
            - original.accumulators.deductible_met_cents,
            now.oop_met_cents
            + corrected.accumulators.oop_met_cents
            - original.accumulators.oop_met_cents,
        ),
    )
    books.pay(
        claim,
        corrected.payer_claim_number,
        corrected.paid_cents,
        tenant=fix["tenant"],
        billing_npi=fix["billing_npi"],
    )
    return [reverse(original, today), corrected]


# --- the 835 ----------------------------------------------------------------------------


def trace_number(payer_id: str, today: dt.date, seq: int) -> str:
    """TRN02 of an 835, also the check or EFT number a 277 names."""
    return f"{payer_id}{today:%y%m%d}{seq:08d}"


def plb_draw(cfg: SimulatorSettings, trace: str) -> tuple[random.Random, str | None]:
    """Whether this 835 carries a PLB: None, "recoupment" or "interest" (a recoupment
    falls back to interest when there is nothing to take back), with the generator
    the rest of the choice is drawn from."""
    rng = random.Random(f"{cfg.seed}:plb:{trace}")
    if cfg.plb_rate <= 0 or rng.random() >= cfg.plb_rate:
        return rng, None
    return rng, ("recoupment" if rng.random() < 0.5 else "interest")


def recoupment_from(
    rng: random.Random, earlier: Sequence[Mapping[str, Any]], results: Sequence[Adjudication]
) -> tuple[str, ProviderAdjustment] | None:
    """Part of an earlier payment to the payee taken back (its CLM01 and the PLB WO), at
    most what this 835 pays; None when no earlier claim outside it was paid."""
    in_batch = {r.claim.patient_control_number for r in results}
    candidates = [e for e in earlier if e["patient_control_number"] not in in_batch]
    room = payment_total(results)
    if not candidates or room <= 0:
        return None
    e = rng.choice(candidates)
    amount = min(max(1, e["paid_cents"] // 10), room)
    return e["patient_control_number"], recoupment(amount, e["payer_claim_number"])


def interest_on(
    rng: random.Random, cfg: SimulatorSettings, results: Sequence[Adjudication]
) -> list[ProviderAdjustment]:
    """Interest (PLB L6) on one claim this 835 pays; none when it pays none."""
    paid = [r for r in results if r.paid_cents > 0 and r.status != "22"]
    if not paid:
        return []
    r = rng.choice(paid)
    amount = max(1, int(r.paid_cents * cfg.interest_rate))
    return [interest(amount, r.payer_claim_number)]


def delivery_faults(cfg: SimulatorSettings, trace: str) -> tuple[bool, bool]:
    """(delivered twice, held back) for the 835 with this trace number."""
    rng = random.Random(f"{cfg.seed}:deliver:{trace}")
    twice = rng.random() < cfg.duplicate_835_rate
    late = rng.random() < cfg.out_of_order_rate
    return twice, late


def final_status(r: Adjudication) -> tuple[str, str]:
    """The 277 category and status code of an adjudicated claim."""
    if r.status == "22":
        return x12_277.REVERSED
    if r.paid_cents > 0:
        return x12_277.PAID
    if r.denied:
        return x12_277.DENIED
    return x12_277.NO_PAYMENT
