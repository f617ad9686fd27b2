"""A corrected claim at the simulated payer (issue 29, the sandbox's half of corrected
claims) on the real database: a replacement (frequency 7, REF*F8 the payer's claim
number) of a partly paid claim is answered with the reversal of the payment that stood
(CLP02 22, every amount negated) and the replacement's own payment, so the claim's money
is paid once; a void (8) gets the reversal only; the member's deductible counts the
answer that stands, not every answer sent."""

from __future__ import annotations

import pytest

from runtime.service import Service
from runtime.x12 import cents, segments
from services.simulator.samples import Claim837 as C
from services.simulator.samples import Line837 as L
from services.simulator.samples import build_set, interchange
from services.simulator.timers import PayerCycle
from tests.integration import test_simulator_handlers as handlers_tests
from tests.integration.test_simulator_handlers import Simulator, recent, remits, upload

pytestmark = pytest.mark.integration
simulator = handlers_tests.simulator  # the fixture

PCN = "CFIX1"


def lines(day: str) -> list[L]:
    # the PPO pays the office visit less its copay, takes the lab to the deductible and
    # denies 20610 without a prior authorization (CO-197)
    return [L("99213", "120", date=day), L("36415", "40", date=day), L("20610", "160", date=day)]


async def _send(svc: Service, pay: PayerCycle, claim: C, icn: int) -> list[list[str]]:
    """The claim sent in its own interchange and the payer cycle run: the 835's segments
    (one 835 expected), taken from the inbound folder."""
    text = interchange(build_set([claim]), icn=icn)
    await upload(svc, text)
    await pay(svc)
    answers = await remits(svc)
    assert len(answers) <= 1
    return segments(answers[0].x12)[1] if answers else []


def _clps(segs: list[list[str]]) -> list[list[list[str]]]:
    out: list[list[list[str]]] = []
    for seg in segs:
        if seg[0] == "CLP":
            out.append([])
        elif seg[0] in ("PLB", "SE"):
            break
        if out:
            out[-1].append(seg)
    return out


def _bpr(segs: list[list[str]]) -> int:
    return cents(next(s for s in segs if s[0] == "BPR")[2])


def _pr(clp: list[list[str]], reason: str) -> int:
    return sum(
        cents(s[i + 1])
        for s in clp
        if s[0] == "CAS" and s[1] == "PR"
        for i in range(2, len(s), 3)
        if s[i] == reason
    )


async def _deductible_met(svc: Service) -> int:
    assert svc.pool is not None
    met = await svc.pool.fetchval(
        "SELECT coalesce(sum(deductible_met_cents), 0) FROM accumulators"
        " WHERE payer_id = 'PPO01' AND member_id = 'MBR001'"
    )
    return int(met)


async def test_a_replacement_reverses_the_partly_paid_claim_and_pays_once_and_a_void_reverses(
    simulator: Simulator,
) -> None:
    svc, pay = await simulator()
    day = recent()
    first = _clps(await _send(svc, pay, C(PCN, lines(day), payer_id="PPO01", filing="12"), 601))
    [original] = first
    assert ["CAS", "CO", "197", "160"] in [s[:4] for s in original]  # the line denied
    original_paid = cents(original[0][4])
    assert original_paid > 0  # partly paid

    fixed = C(PCN, lines(day), payer_id="PPO01", filing="12", freq="7")
    fixed.original, fixed.auth = original[0][7], "AUTH77"
    segs = await _send(svc, pay, fixed, 602)
    reversal, replacement = _clps(segs)
    assert [reversal[0][2], replacement[0][2]] == ["22", "1"]
    # the reversal names the payment it takes back and negates every amount of it
    assert reversal[0][7] == original[0][7]
    assert [cents(reversal[0][i]) for i in (3, 4, 5)] == [-cents(original[0][i]) for i in (3, 4, 5)]
    assert _pr(reversal, "1") == -_pr(original, "1")
    # the replacement, with the authorization, is paid on both lines under its own number
    assert replacement[0][7] != original[0][7]
    assert ["CAS", "CO", "197", "160"] not in [s[:4] for s in replacement]
    replacement_paid = cents(replacement[0][4])
    # 20610 allowed now: to the member's deductible, no longer a write-off
    assert cents(replacement[0][5]) > cents(original[0][5])
    # the check carries only the difference: the claim's money is the replacement's, once
    assert _bpr(segs) == replacement_paid - original_paid
    assert original_paid + _bpr(segs) == replacement_paid
    # the deductible counts the replacement's answer only (the reversal gave back the first)
    assert await _deductible_met(svc) == _pr(replacement, "1") > _pr(original, "1") > 0

    void = C(PCN, lines(day), payer_id="PPO01", filing="12", freq="8")
    void.original = replacement[0][7]
    segs = await _send(svc, pay, void, 603)
    [taken_back] = _clps(segs)
    assert (taken_back[0][2], taken_back[0][7]) == ("22", replacement[0][7])
    assert cents(taken_back[0][4]) == -replacement_paid
    assert await _deductible_met(svc) == 0
    # nothing further: the first answer's line kept for an appeal no longer stands
    assert svc.pool is not None
    await svc.pool.execute("UPDATE corrections SET due_at = now()")
    await pay(svc)
    assert await remits(svc) == []


async def test_a_void_of_a_claim_never_paid_is_never_paid(simulator: Simulator) -> None:
    svc, pay = await simulator()
    day = recent()
    void = C("CFIX3", lines(day), payer_id="PPO01", filing="12", freq="8", original="X1")
    assert await _send(svc, pay, void, 611) == []
