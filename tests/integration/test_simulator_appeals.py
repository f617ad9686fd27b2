"""The simulated payer answers appeals (issue 29 part 3) on the real database: a claim
with a line denied CO-197 (the PPO's prior authorization missing) is kept; its appeal (claim.appeal_sent)
makes the payer reprocess it in one 835, a reversal of the first answer and the new one:
overturned, the line is allowed; upheld, the same answer again. An appeal of a claim with
nothing to overturn gets no 835."""

from __future__ import annotations

import pytest

from runtime.service import Record, Service
from runtime.x12 import cents, segments
from schemas.codec import encode, new_meta
from schemas.events_workqueue import AppealedLine, AppealSent
from services.simulator.samples import Claim837 as C
from services.simulator.samples import Line837 as L
from services.simulator.samples import build_set, interchange
from services.simulator.timers import PayerCycle
from tests.integration import test_simulator_handlers as handlers_tests
from tests.integration.test_simulator_handlers import (
    TENANT,
    Simulator,
    clps,
    recent,
    remits,
    upload,
)

pytestmark = pytest.mark.integration
simulator = handlers_tests.simulator  # the fixture


def lines(day: str) -> list[L]:
    return [L("99213", "120", date=day), L("20610", "160", date=day)]


def appeal_sent(pcn: str, number: str, offset: int) -> Record:
    ev = AppealSent(
        claim_id=pcn,
        appeal_id=f"{pcn}-A1",
        payer_id="PPO01",
        patient_control_number=pcn,
        payer_claim_number=number,
        lines=[
            AppealedLine(
                line_number=2,
                procedure_code="20610",
                cas_group="CO",
                reason="197",
                amount_cents=16000,
                category="appealable",
            )
        ],
    )
    x = encode(ev, new_meta(ev, source="test", tenant=TENANT, correlation_id=pcn))
    return Record(AppealSent.TOPIC, 0, offset, x.key, x.value, x.headers)


async def _first_answer(svc: Service, pay: PayerCycle, pcn: str, icn: int) -> list[list[str]]:
    day = recent()
    text = interchange(build_set([C(pcn, lines(day), payer_id="PPO01", filing="12")]), icn=icn)
    await upload(svc, text)
    await pay(svc)
    [remit] = await remits(svc)
    return clps(remit.x12)[pcn]


async def _reprocessed(svc: Service, pay: PayerCycle) -> list[list[list[str]]]:
    """Each CLP the payer cycle sends now, with its segments."""
    await pay(svc)
    out: list[list[list[str]]] = []
    for r in await remits(svc):
        for seg in segments(r.x12)[1]:
            if seg[0] == "CLP":
                out.append([])
            if out and seg[0] not in ("PLB", "SE"):
                out[-1].append(seg)
    return out


def _denied_197(clp: list[list[str]]) -> bool:
    return ["CAS", "CO", "197", "160"] in [s[:4] for s in clp]


async def test_an_overturned_appeal_is_a_reversal_and_the_line_allowed(
    simulator: Simulator,
) -> None:
    svc, pay = await simulator(appeal_overturn_rate=1.0, appeal_answer_s=0)
    first = await _first_answer(svc, pay, "CAPL1", 601)
    clp = first[0]
    assert _denied_197(first)
    assert await _reprocessed(svc, pay) == []  # kept, not reversed: no appeal yet

    await svc.process(AppealSent.TOPIC, [appeal_sent("CAPL1", clp[7], 0)])
    await svc.process(AppealSent.TOPIC, [appeal_sent("CAPL1", clp[7], 1)])  # redelivered
    reversal, overturned = await _reprocessed(svc, pay)
    assert (reversal[0][2], reversal[0][7]) == ("22", clp[7])
    assert cents(reversal[0][4]) == -cents(clp[4])
    assert ["CAS", "CO", "197", "-160"] in [x[:4] for x in reversal]
    assert (overturned[0][2], cents(overturned[0][3])) == ("1", cents(clp[3]))
    assert not _denied_197(overturned)  # the line is allowed now
    assert await _reprocessed(svc, pay) == []  # once


async def test_an_upheld_appeal_is_answered_with_the_same_payment(simulator: Simulator) -> None:
    svc, pay = await simulator(appeal_overturn_rate=0.0, appeal_answer_s=0)
    clp = (await _first_answer(svc, pay, "CAPL2", 602))[0]
    await svc.process(AppealSent.TOPIC, [appeal_sent("CAPL2", clp[7], 0)])
    reversal, again = await _reprocessed(svc, pay)
    assert (reversal[0][2], again[0][2]) == ("22", "1")
    assert cents(again[0][4]) == cents(clp[4])
    assert _denied_197(again)


async def test_an_appeal_of_a_claim_with_nothing_to_overturn_gets_no_835(
    simulator: Simulator,
) -> None:
    svc, pay = await simulator(appeal_overturn_rate=1.0, appeal_answer_s=0)
    day = recent()
    claim = C("CAPL3", [L("99213", "120", date=day)], payer_id="PPO01", filing="12")
    text = interchange(build_set([claim]), icn=603)
    await upload(svc, text)
    await pay(svc)
    assert len(await remits(svc)) == 1  # the first answer
    await svc.process(AppealSent.TOPIC, [appeal_sent("CAPL3", "X", 0)])
    assert await _reprocessed(svc, pay) == []
