"""Payer simulator: fee schedules, cost share, denial rules and balancing."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from random import Random

import pytest

from services.simulator.adjudicate import (
    PROCESSED_PRIMARY,
    PROCESSED_SECONDARY,
    REVERSAL,
    adjudicate,
    check_balance,
    payer_claim_number,
    reverse,
)
from services.simulator.model import DENIED, Accumulators, Adjudication, Cas, ClaimIn, ClaimLineIn
from services.simulator.payers import MEDICARE_FEES, PAYERS, PREVENTIVE, payer

pytestmark = pytest.mark.unit

DOS = dt.date(2025, 3, 3)
TODAY = dt.date(2025, 3, 10)


def line(
    code: str,
    charge: int,
    n: int = 1,
    *,
    mods: tuple[str, ...] = (),
    dx: tuple[str, ...] = ("I10",),
    units: int = 1,
) -> ClaimLineIn:
    return ClaimLineIn(n, code, charge, units, mods, dx, DOS)


def claim(payer_id: str, *lines: ClaimLineIn, pcn: str = "PCN1", **kw: object) -> ClaimIn:
    numbered = tuple(replace(ln, line_number=i) for i, ln in enumerate(lines, 1))
    base = ClaimIn(
        patient_control_number=pcn,
        payer_id=payer_id,
        member_id="M1",
        date_of_service=DOS,
        lines=numbered,
        total_charge_cents=sum(ln.charge_cents for ln in numbered),
        diagnoses=("I10", "E119"),
        billing_npi="1234567893",
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def cas(result: Adjudication, n: int = 0) -> list[tuple[str, str, int]]:
    return [(a.group, a.reason, a.amount_cents) for a in result.lines[n].adjustments]


# --- fee schedules -----------------------------------------------------------------


def test_every_payer_prices_every_family_medicine_code() -> None:
    codes = {str(n) for n in (*range(99202, 99206), *range(99212, 99216))}
    codes |= {str(n) for n in (*range(99381, 99388), *range(99391, 99398))}
    codes |= {
        "G0438",
        "G0439",
        "36415",
        "81002",
        "81003",
        "85025",
        "80053",
        "80061",
        "83036",
        "84443",
        "87880",
        "87804",
        "90471",
        "90472",
        "90686",
        "90715",
        "90732",
        "96127",
        "93000",
        "94640",
        "96372",
        "J1010",
        "J1030",
        "J3301",
        "20610",
        "17110",
        "11102",
        "69210",
        "G0442",
        "G0444",
        "99401",
    }
    assert set(MEDICARE_FEES) == codes
    for plan in PAYERS.values():
        assert set(plan.fees) == codes
    assert payer("PPO01").fees["99213"] == round(MEDICARE_FEES["99213"] * 1.3)
    assert payer("MCD01").fees["99213"] == MEDICARE_FEES["99213"] * 7 // 10
    assert payer("HDHP1").fees["99214"] == MEDICARE_FEES["99214"] * 12 // 10


def test_unknown_code_is_priced_at_60_percent_of_charge() -> None:
    r = adjudicate(claim("MCD01", line("99999", 10001)), Accumulators(2025), TODAY)
    assert r.lines[0].allowed_cents == 6001
    assert r.paid_cents == 6001
    assert cas(r) == [("CO", "45", 4000)]


def test_allowed_is_fee_times_units_capped_by_charge() -> None:
    fee = payer("MCD01").fees["J3301"]
    r = adjudicate(claim("MCD01", line("J3301", 10000, units=4)), Accumulators(2025), TODAY)
    assert r.lines[0].allowed_cents == fee * 4
    low = adjudicate(claim("MCD01", line("99214", 100)), Accumulators(2025), TODAY)
    assert low.lines[0].allowed_cents == 100
    assert cas(low) == []


# --- cost share -------------------------------------------------------------------


def test_medicare_deductible_then_coinsurance() -> None:
    r = adjudicate(claim("MCR01", line("99214", 20000)), Accumulators(2025), TODAY)
    assert r.status == PROCESSED_PRIMARY
    assert cas(r) == [("CO", "45", 7000), ("PR", "1", 13000)]
    assert r.paid_cents == 0
    assert r.accumulators is not None
    r2 = adjudicate(claim("MCR01", line("99215", 30000), pcn="PCN2"), r.accumulators, TODAY)
    # 25700 - 13000 = 12700 deductible left; 20% of the remaining 5600 allowed
    assert cas(r2) == [("CO", "45", 11700), ("PR", "1", 12700), ("PR", "2", 1120)]
    assert r2.paid_cents == 18300 - 12700 - 1120
    assert r2.accumulators == Accumulators(2025, 25700, 13000 + 12700 + 1120)


def test_second_claim_of_a_member_pays_more_once_deductible_is_met() -> None:
    for payer_id in ("MCR01", "PPO01", "HDHP1"):
        acc = Accumulators(2025)
        paid = []
        for n in range(3):
            c = claim(payer_id, line("17110", 80000, units=4), pcn=f"P{n}")
            r = adjudicate(c, acc, TODAY)
            check_balance(r)
            assert r.accumulators is not None
            acc = r.accumulators
            paid.append(r.paid_cents)
        if payer_id == "HDHP1":  # 300000 deductible: still inside it
            assert paid == [0, 0, 0]
            assert acc.deductible_met_cents == 12 * payer("HDHP1").fees["17110"]
        else:
            assert paid[1] > paid[0]
            assert paid[2] >= paid[1]


def test_accumulators_reset_with_the_plan_year() -> None:
    old = Accumulators(2024, 25700, 50000)
    r = adjudicate(claim("MCR01", line("99214", 20000)), old, TODAY)
    assert r.accumulators == Accumulators(2025, 13000, 13000)


def test_ppo_copay_on_office_visit_once_per_claim_and_preventive_free() -> None:
    c = claim("PPO01", line("99213", 20000), line("99396", 30000), line("85025", 5000))
    r = adjudicate(c, Accumulators(2025), TODAY)
    fees = payer("PPO01").fees
    # the PPO still prices established office visits from last year's 125 % (an underpayment
    # against the practice's contracted 130 %: rcm/demo_contracts.csv)
    assert payer("PPO01").price("99213") == round(MEDICARE_FEES["99213"] * 1.25) < fees["99213"]
    assert cas(r, 0) == [("CO", "45", 20000 - payer("PPO01").price("99213")), ("PR", "3", 2500)]
    assert cas(r, 1) == [("CO", "45", 30000 - fees["99396"])]
    assert cas(r, 2) == [("CO", "45", 5000 - fees["85025"]), ("PR", "1", fees["85025"])]
    assert r.patient_responsibility_cents == 2500 + fees["85025"]
    assert r.accumulators == Accumulators(2025, fees["85025"], 2500 + fees["85025"])


def test_out_of_pocket_max_caps_patient_responsibility() -> None:
    acc = Accumulators(2025, deductible_met_cents=50000, oop_met_cents=399000)
    r = adjudicate(claim("PPO01", line("17110", 40000)), acc, TODAY)
    allowed = payer("PPO01").fees["17110"]
    assert r.patient_responsibility_cents == 1000
    assert cas(r) == [("CO", "45", 40000 - allowed), ("PR", "2", 1000)]
    assert r.paid_cents == allowed - 1000
    assert r.accumulators == Accumulators(2025, 50000, 400000)
    after = adjudicate(claim("PPO01", line("17110", 40000), pcn="P2"), r.accumulators, TODAY)
    assert after.patient_responsibility_cents == 0
    assert after.paid_cents == allowed


def test_medicaid_has_no_cost_share() -> None:
    r = adjudicate(claim("MCD01", line("99214", 20000)), Accumulators(2025), TODAY)
    assert r.paid_cents == payer("MCD01").fees["99214"]
    assert r.patient_responsibility_cents == 0


@pytest.mark.parametrize("code", sorted(PREVENTIVE))
def test_preventive_codes_have_no_cost_share(code: str) -> None:
    for payer_id in ("MCR01", "PPO01", "HDHP1"):
        r = adjudicate(claim(payer_id, line(code, 99999)), Accumulators(2025), TODAY)
        assert r.patient_responsibility_cents == 0
        assert r.paid_cents == payer(payer_id).fees[code]


def later(
    payer_id: str, *lines: ClaimLineIn, left: tuple[int, ...], prior: tuple[int, ...]
) -> ClaimIn:
    """A secondary claim whose 2430 says what the primary paid and left on each line."""
    shared = tuple(
        replace(ln, prior_paid_cents=p, prior_patient_cents=x)
        for ln, p, x in zip(lines, prior, left, strict=True)
    )
    return claim(payer_id, *shared, priority=2, prior_payer_paid_cents=sum(prior))


def test_medigap_pays_medicares_coinsurance_and_deductible() -> None:
    c = later(
        "MGP01", line("99214", 20000), line("36415", 1000, 2), left=(2600, 300), prior=(10400, 0)
    )
    r = adjudicate(c, Accumulators(2025), TODAY)
    check_balance(r)
    assert r.status == PROCESSED_SECONDARY
    assert (r.paid_cents, r.patient_responsibility_cents) == (2900, 0)
    assert r.lines[0].adjustments == (Cas("OA", "23", 20000 - 2600),)


def test_medicaid_pays_cost_sharing_only_up_to_its_own_fee() -> None:
    fee = payer("MCD01").fees["99214"]  # 91.00, below Medicare's 130.00
    c = later("MCD01", line("99214", 20000), left=(2600,), prior=(10400,))
    r = adjudicate(c, Accumulators(2025), TODAY)
    check_balance(r)
    # Medicare paid 104.00 already, more than Medicaid's fee: Medicaid pays nothing
    assert fee < 10400
    assert (r.paid_cents, r.patient_responsibility_cents) == (0, 2600)
    low = later("MCD01", line("99214", 20000), left=(2600,), prior=(fee - 1000,))
    r = adjudicate(low, Accumulators(2025), TODAY)
    assert (r.paid_cents, r.patient_responsibility_cents) == (1000, 1600)


def test_a_commercial_secondary_pays_at_most_what_it_would_as_primary() -> None:
    c = later("PPO01", line("99214", 20000), left=(5000,), prior=(8000,))
    r = adjudicate(c, Accumulators(2025), TODAY)
    check_balance(r)
    own = payer("PPO01").fees["99214"] - payer("PPO01").benefits.copay_cents
    assert own > 5000
    assert (r.paid_cents, r.patient_responsibility_cents) == (5000, 0)


def test_a_secondary_without_2430_spreads_amt_eaf_over_the_lines_by_charge() -> None:
    c = claim("MGP01", line("99214", 15000), line("36415", 5000, 2), priority=2,
              prior_patient_cents=4000)  # fmt: skip
    r = adjudicate(c, Accumulators(2025), TODAY)
    check_balance(r)
    assert [ln.paid_cents for ln in r.lines] == [3000, 1000]


# --- denials ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "made", "group", "carc", "line_remarks", "claim_remarks"),
    [
        (
            "no diagnosis",
            claim("MCR01", line("99213", 9000, dx=()), diagnoses=()),
            "CO",
            "16",
            ("M76",),
            ("MA130",),
        ),
        (
            "coverage ended",
            claim("MCR01", line("99213", 9000), coverage_termination=dt.date(2025, 2, 28)),
            "CO",
            "27",
            (),
            (),
        ),
        (
            "not yet covered",
            claim("MCR01", line("99213", 9000), coverage_effective=dt.date(2025, 4, 1)),
            "CO",
            "26",
            (),
            (),
        ),
        (
            "timely filing",
            claim("PPO01", line("99213", 9000), date_of_service=dt.date(2024, 9, 1)),
            "CO",
            "29",
            (),
            (),
        ),
    ],
)
def test_claim_level_denials(
    label: str,
    made: ClaimIn,
    group: str,
    carc: str,
    line_remarks: tuple[str, ...],
    claim_remarks: tuple[str, ...],
) -> None:
    acc = Accumulators(2025)
    r = adjudicate(made, acc, TODAY)
    check_balance(r)
    assert r.status == DENIED, label
    assert r.denial_reason == carc
    assert r.paid_cents == 0
    assert r.claim_remarks == claim_remarks
    for ln in r.lines:
        assert [(a.group, a.reason) for a in ln.adjustments] == [(group, carc)]
        assert ln.remarks == line_remarks
    assert r.accumulators == acc


def test_timely_filing_window_is_per_payer() -> None:
    late = dt.date(2025, 3, 10) - dt.timedelta(days=200)
    ppo = adjudicate(
        claim("PPO01", line("99213", 9000), date_of_service=late), Accumulators(2024), TODAY
    )
    mcr = adjudicate(
        claim("MCR01", line("99213", 9000), date_of_service=late), Accumulators(2024), TODAY
    )
    assert ppo.denial_reason == "29"
    assert mcr.status == PROCESSED_PRIMARY


def test_duplicate_unless_replacement() -> None:
    c = claim("MCR01", line("99213", 9000))
    dup = adjudicate(c, Accumulators(2025), TODAY, paid_claims={"PCN1"})
    assert dup.status == DENIED
    assert cas(dup) == [("CO", "18", 9000)]
    replacement = replace(c, frequency_code="7", original_payer_claim_number="X1")
    again = adjudicate(replacement, Accumulators(2025), TODAY, paid_claims={"PCN1"})
    assert again.status == PROCESSED_PRIMARY


@pytest.mark.parametrize(
    ("payer_id", "made", "denied_line", "carc", "remark"),
    [
        ("MCD01", (line("17110", 20000), line("99213", 9000)), 0, "96", "N130"),
        ("PPO01", (line("20610", 20000), line("J3301", 1000)), 0, "197", "M62"),
        (
            "MCR01",
            (line("99213", 9000, dx=("E119",)), line("83036", 3000, dx=("Z0000",))),
            1,
            "50",
            "N115",
        ),
        ("MCR01", (line("99213", 9000), line("96372", 3000), line("J1030", 800)), 0, "97", "M15"),
        ("MCR01", (line("99213", 9000), line("85025", 3000, dx=())), 1, "16", "M76"),
    ],
)
def test_line_level_denials(
    payer_id: str, made: tuple[ClaimLineIn, ...], denied_line: int, carc: str, remark: str
) -> None:
    r = adjudicate(claim(payer_id, *made), Accumulators(2025), TODAY)
    check_balance(r)
    assert r.status == PROCESSED_PRIMARY
    bad = r.lines[denied_line]
    assert bad.denied
    assert [(a.group, a.reason, a.amount_cents) for a in bad.adjustments] == [
        ("CO", carc, bad.charge_cents)
    ]
    assert bad.remarks == (remark,)
    assert bad.paid_cents == 0
    others = [ln for i, ln in enumerate(r.lines) if i != denied_line]
    assert all(not ln.denied for ln in others)


def test_line_denial_rules_are_lifted_by_the_right_data() -> None:
    ok = [
        claim("PPO01", line("20610", 20000), prior_authorization="AUTH1"),
        claim("MCR01", line("83036", 3000, dx=("E119",))),
        claim("MCR01", line("99213", 9000, mods=("25",)), line("96372", 3000)),
    ]
    for c in ok:
        r = adjudicate(c, Accumulators(2025), TODAY)
        assert not any(ln.denied for ln in r.lines), c


def test_random_denial_knob_is_seeded_and_off_by_default() -> None:
    c = claim("MCD01", line("99213", 9000))
    assert all(
        adjudicate(c, Accumulators(2025), TODAY, rng=Random(n)).status == PROCESSED_PRIMARY
        for n in range(50)
    )
    rng = Random(7)
    runs = [adjudicate(c, Accumulators(2025), TODAY, rng=rng, denial_rate=0.3) for _ in range(400)]
    denied = [r for r in runs if r.status == DENIED]
    assert 80 < len(denied) < 160
    rng2 = Random(7)
    again = [
        adjudicate(c, Accumulators(2025), TODAY, rng=rng2, denial_rate=0.3) for _ in range(400)
    ]
    assert [r.denial_reason for r in runs] == [r.denial_reason for r in again]


# --- identities over many random claims ----------------------------------------------

CODES = [*sorted(MEDICARE_FEES), "99499", "A0000"]


def random_claim(rng: Random, n: int) -> ClaimIn:
    lines = []
    for i in range(rng.randint(1, 8)):
        code = rng.choice(CODES)
        mods = rng.choice([(), (), ("25",), ("59", "XS")])
        dx = rng.choice(
            [("I10",), ("E119", "I10"), ("Z0000",), ()]
            if rng.random() < 0.1
            else [("I10",), ("E119",)]
        )
        units = rng.choice([1, 1, 1, 2, 3])
        charge = rng.randint(0, 60000)
        lines.append(ClaimLineIn(i + 1, code, charge, units, mods, dx, DOS))
    return claim(
        rng.choice(sorted(PAYERS)),
        *lines,
        pcn=f"R{n}",
        prior_authorization=rng.choice([None, "A1"]),
        date_of_service=DOS - dt.timedelta(days=rng.choice([0, 10, 200, 400])),
        priority=rng.choice([1, 1, 1, 2]),
        prior_payer_paid_cents=rng.choice([0, 0, 1500, 100000]),
    )


def test_balancing_identities_over_1000_random_adjudications() -> None:
    rng = Random(20250301)
    accs: dict[str, Accumulators] = {}
    statuses: set[str] = set()
    for n in range(1000):
        c = random_claim(rng, n)
        member = rng.choice(["A", "B", "C"])
        c = replace(c, member_id=member)
        acc = accs.get(member, Accumulators(2025))
        r = adjudicate(c, acc, TODAY, paid_claims={"R3", "R5"}, rng=rng, denial_rate=0.05)
        statuses.add(r.status)
        check_balance(r)
        for ln in r.lines:
            assert ln.charge_cents == ln.paid_cents + sum(a.amount_cents for a in ln.adjustments)
            assert ln.paid_cents >= 0
            assert 0 <= ln.allowed_cents <= ln.charge_cents
            co45 = sum(a.amount_cents for a in ln.adjustments if a.reason == "45")
            assert ln.denied or c.priority > 1 or co45 == ln.charge_cents - ln.allowed_cents
        assert r.charge_cents == r.paid_cents + sum(a.amount_cents for a in r.all_adjustments())
        assert r.patient_responsibility_cents == sum(
            a.amount_cents for a in r.all_adjustments() if a.group == "PR"
        )
        assert r.paid_cents >= 0
        assert r.accumulators is not None
        plan = payer(c.payer_id)
        if plan.benefits.oop_max_cents is not None and r.accumulators.year == 2025:
            assert r.accumulators.oop_met_cents <= max(
                plan.benefits.oop_max_cents, acc.oop_met_cents
            )
        assert r.accumulators.deductible_met_cents <= max(
            plan.benefits.deductible_cents, acc.deductible_met_cents
        )
        accs[member] = r.accumulators
        rev = reverse(r)
        check_balance(rev)
        assert rev.status == REVERSAL
        assert rev.paid_cents == -r.paid_cents
        assert rev.charge_cents == -r.charge_cents
    assert statuses == {PROCESSED_PRIMARY, PROCESSED_SECONDARY, DENIED}


def test_reversal_negates_every_amount_and_keeps_claim_number() -> None:
    r = adjudicate(
        claim("PPO01", line("99213", 20000), line("85025", 5000)), Accumulators(2025), TODAY
    )
    rev = reverse(r, dt.date(2025, 4, 1))
    assert rev.status == REVERSAL
    assert rev.payer_claim_number == r.payer_claim_number
    assert rev.patient_responsibility_cents == -r.patient_responsibility_cents
    for a, b in zip(r.lines, rev.lines, strict=True):
        assert b.paid_cents == -a.paid_cents
        assert b.allowed_cents == -a.allowed_cents
        assert [x.amount_cents for x in b.adjustments] == [-x.amount_cents for x in a.adjustments]


def test_payer_claim_number_is_deterministic() -> None:
    c = claim("MCR01", line("99213", 9000), interchange_control_number="000000001")
    assert payer_claim_number(c) == payer_claim_number(c)
    assert payer_claim_number(c) != payer_claim_number(
        replace(c, interchange_control_number="000000002")
    )
    assert payer_claim_number(c).startswith("MCR25")
