"""Remittance on the real database: which claim a CLP pays (CLP01, payer claim number,
patient, date and charge), CLPs waiting for their claim.submitted, and the rematch timer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from runtime.service import Service
from runtime.settings import Settings
from runtime.x12 import segment
from services.remittance import handlers, timers
from services.remittance.domain.matching import LOOK_ALIKE_AFTER_S
from services.remittance.x12_835.reader import ClaimStream
from tests.integration.remittance_world import (
    PAYER,
    TENANT,
    adjudications,
    clp,
    consume,
    line,
    publish,
    remit,
    remittance_service,
    rows,
    submit,
    submitted,
    x835,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def svc(live_stack: Settings) -> AsyncIterator[Service]:
    async with remittance_service(live_stack) as service:
        yield service


async def test_an_unmatched_claim_waits_in_the_queue_until_its_claim_is_known(
    svc: Service,
) -> None:
    # remittance lags: the claim was published (and paid) before it reads claim.submitted
    lagging = publish(submitted("CLAIM-9", "C9", 10000))
    stray = clp("C9", "1", "100", "100", "", "PCN-Z", *line("99213", "100", "100"))
    await remit(svc, x835("100", "TR-U", stray), "TR-U")

    [queued] = await rows(svc, "SELECT * FROM unmatched")
    assert (
        queued["trace_number"],
        queued["patient_control_number"],
        queued["payer_claim_number"],
        queued["amount_cents"],
        queued["resolved_at"],
    ) == ("TR-U", "C9", "PCN-Z", 10000, None)
    assert "waiting for its claim" in queued["reason"]
    assert await rows(svc, "SELECT * FROM claim_postings") == []
    assert await adjudications(svc) == []

    await consume(svc, lagging)
    [resolved] = await rows(svc, "SELECT resolved_claim_id, posting_id FROM unmatched")
    assert resolved["resolved_claim_id"] == "CLAIM-9"
    [ev] = await adjudications(svc)
    assert (ev.claim_id, ev.patient_control_number, ev.paid_cents) == ("CLAIM-9", "C9", 10000)


async def test_claims_submitted_in_one_batch_each_take_their_own_waiting_clp(
    svc: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    strays = [
        clp("C7", "1", "100", "100", "", "PCN-7", *line("99213", "100", "100")),
        clp(
            "C8",
            "1",
            "250",
            "200",
            "",
            "PCN-8",
            *line("99214", "250", "200", segment("CAS", "CO", "45", "50")),
        ),
    ]
    lagging = [
        publish(ev)
        for ev in (
            submitted("CLAIM-7", "C7", 10000),
            submitted("CLAIM-8", "C8", 25000),
            submitted("CLAIM-6", "C6", 10000),  # nothing waits for it
        )
    ]
    await remit(svc, x835("300", "TR-W", *strays), "TR-W")
    assert len(await rows(svc, "SELECT * FROM unmatched WHERE resolved_at IS NULL")) == 2
    parsed: list[str] = []

    def counting_read(text: str) -> Any:
        parsed.append(text)
        return ClaimStream(text)

    monkeypatch.setattr(handlers, "ClaimStream", counting_read)
    await consume(svc, *lagging)
    # Both waiting CLPs are in one 835: it is read again once for the run, not per claim.
    assert len(parsed) == 1
    resolved = await rows(
        svc, "SELECT patient_control_number, resolved_claim_id FROM unmatched ORDER BY id"
    )
    assert [(r["patient_control_number"], r["resolved_claim_id"]) for r in resolved] == [
        ("C7", "CLAIM-7"),
        ("C8", "CLAIM-8"),
    ]
    posted = sorted((ev.claim_id, ev.paid_cents) for ev in await adjudications(svc))
    assert posted == [("CLAIM-7", 10000), ("CLAIM-8", 20000)]


async def test_a_claim_indexed_by_a_concurrent_transaction_is_posted_by_the_rematch_timer(
    svc: Service,
) -> None:
    # The race: the 835 is read while its claim.submitted is being applied elsewhere, so
    # the CLP is queued although the claim becomes known a moment later.
    publish(submitted("CLAIM-8", "C8", 10000))
    stray = clp("C8", "1", "100", "100", "", "PCN-Y", *line("99213", "100", "100"))
    await remit(svc, x835("100", "TR-R", stray), "TR-R")
    assert svc.pool is not None
    await svc.pool.execute(
        "INSERT INTO submitted_claims(tenant, patient_control_number, claim_id, payer_id,"
        " frequency_code, total_charge_cents) VALUES ($1, 'C8', 'CLAIM-8', $2, '1', 10000)",
        TENANT,
        PAYER,
    )
    assert await timers.rematch(svc) == 1
    assert await timers.rematch(svc) == 0
    [ev] = await adjudications(svc)
    assert (ev.claim_id, ev.paid_cents) == ("CLAIM-8", 10000)
    [resolved] = await rows(svc, "SELECT resolved_claim_id FROM unmatched")
    assert resolved["resolved_claim_id"] == "CLAIM-8"


async def test_claims_match_by_payer_claim_number_then_patient_date_and_amount(
    svc: Service,
) -> None:
    await submit(svc, "CLAIM-3", "C3", 10000)
    await submit(svc, "CLAIM-4", "C4", 7500, name=("O'NEIL", "Pat"))
    first = clp("C3", "1", "100", "100", "", "PCN-3", *line("99213", "100", "100"))
    await remit(svc, x835("100", "TR-1", first), "TR-1")
    # the payer keys its reversal by its own claim number and echoes a CLM01 we never sent
    reversal = clp("C3-X", "22", "-100", "-100", "", "PCN-3", *line("99213", "-100", "-100"))
    # CLP01 mangled by the payer; no payer claim number known; name, date and charge match
    by_patient = clp(
        "??", "1", "75", "75", "", "PCN-4", *line("99213", "75", "75"), name=("ONEIL", "PATRICIA")
    )
    # remittance has not yet applied a claim published before TR-2: it might be the one
    # "??" stands for, so patient, date and charge wait for it, however long that takes
    lagging = publish(submitted("CLAIM-10", "C10", 9900))
    await remit(svc, x835("-25", "TR-2", reversal, by_patient), "TR-2")
    [waiting] = await rows(
        svc, "SELECT patient_control_number, reason FROM unmatched WHERE resolved_at IS NULL"
    )
    assert waiting["patient_control_number"] == "??"
    assert "waiting for its claim" in waiting["reason"]
    assert svc.pool is not None
    await svc.pool.execute("UPDATE unmatched SET received_at = now() - interval '1 hour'")
    assert await timers.rematch(svc) == 0
    await consume(svc, lagging)  # "??" names no claim: nothing posts yet
    assert await timers.rematch(svc) == 1

    got = await rows(
        svc, "SELECT claim_id, patient_control_number, matched_by FROM claim_postings ORDER BY id"
    )
    assert got == [
        {"claim_id": "CLAIM-3", "patient_control_number": "C3", "matched_by": "patient_control_number"},
        {"claim_id": "CLAIM-3", "patient_control_number": "C3-X", "matched_by": "payer_claim_number"},
        {"claim_id": "CLAIM-4", "patient_control_number": "??", "matched_by": "patient_date_amount"},
    ]  # fmt: skip
    assert await rows(svc, "SELECT * FROM unmatched WHERE resolved_at IS NULL") == []


async def test_a_payment_is_not_taken_by_a_look_alike_claim_while_its_own_is_on_its_way(
    svc: Service,
) -> None:
    """Two visits of one patient on one day for the same charge. The 835 for the second
    is read before remittance has applied its claim.submitted, published earlier: it
    waits for it however long remittance lags, and never pays the first."""
    await submit(svc, "CLAIM-5", "C5", 10000)
    lagging = publish(submitted("CLAIM-6", "C6", 10000))
    await remit(
        svc,
        x835("100", "TR-5", clp("C5", "1", "100", "100", "", "P5", *line("99213", "100", "100"))),
        "TR-5",
    )
    await remit(
        svc,
        x835("100", "TR-6", clp("C6", "1", "100", "100", "", "P6", *line("99213", "100", "100"))),
        "TR-6",
    )
    assert svc.pool is not None
    await svc.pool.execute("UPDATE unmatched SET received_at = now() - interval '1 hour'")
    assert await timers.rematch(svc) == 0
    await consume(svc, lagging)

    got = await rows(
        svc, "SELECT claim_id, patient_control_number, matched_by FROM claim_postings ORDER BY id"
    )
    assert got == [
        {"claim_id": "CLAIM-5", "patient_control_number": "C5", "matched_by": "patient_control_number"},
        {"claim_id": "CLAIM-6", "patient_control_number": "C6", "matched_by": "patient_control_number"},
    ]  # fmt: skip
    assert sorted((e.claim_id, e.paid_cents) for e in await adjudications(svc)) == [
        ("CLAIM-5", 10000),
        ("CLAIM-6", 10000),
    ]


async def test_a_payment_two_claims_look_like_goes_to_a_person_once_both_are_known(
    svc: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The payer mangled CLP01, and two visits look alike, one of them not yet applied
    by remittance. Patient, date and charge are tried once both are known: two claims
    match, so a person decides, with the reason, and the timer does not try again."""
    await submit(svc, "CLAIM-5", "C5", 10000)
    lagging = publish(submitted("CLAIM-6", "C6", 10000))
    mangled = clp("??", "1", "100", "100", "", "P7", *line("99213", "100", "100"))
    await remit(svc, x835("100", "TR-7", mangled), "TR-7")
    assert await timers.rematch(svc) == 0  # CLAIM-6 may be it: wait
    [item] = await rows(svc, "SELECT reason, looked_alike_at FROM unmatched")
    assert "waiting for its claim" in item["reason"]
    assert item["looked_alike_at"] is None

    await consume(svc, lagging)
    assert await timers.rematch(svc) == 0  # both known, but it has not waited yet
    [item] = await rows(svc, "SELECT reason, looked_alike_at FROM unmatched")
    assert (item["looked_alike_at"], "waiting for its claim" in item["reason"]) == (None, True)
    assert svc.pool is not None
    await svc.pool.execute(
        "UPDATE unmatched SET received_at = now() - make_interval(secs => $1 + 1)",
        LOOK_ALIKE_AFTER_S,
    )
    assert await timers.rematch(svc) == 0
    [item] = await rows(svc, "SELECT reason, looked_alike_at, resolved_at FROM unmatched")
    assert item["reason"] == "2 claims match the patient, date and amount"
    assert item["looked_alike_at"] is not None
    assert item["resolved_at"] is None
    assert await rows(svc, "SELECT * FROM claim_postings") == []
    assert await adjudications(svc) == []

    tried: list[int] = []
    real = handlers.match_claims

    async def counting(*args: Any) -> Any:
        tried.append(len(args[3]))
        return await real(*args)

    monkeypatch.setattr(handlers, "match_claims", counting)
    assert await timers.rematch(svc) == 0
    assert tried == []


async def test_a_mangled_clp01_is_matched_by_patient_date_and_amount_after_its_wait(
    svc: Service,
) -> None:
    """Caught up or not, a CLP01 naming no claim waits before a look-alike may take its
    payment: the payer can answer from the mailbox before claims has published the
    claim's claim.submitted. After the wait, patient, date and charge decide."""
    await submit(svc, "CLAIM-4", "C4", 7500, name=("O'NEIL", "Pat"))
    by_patient = clp(
        "??", "1", "75", "75", "", "PCN-4", *line("99213", "75", "75"), name=("ONEIL", "PATRICIA")
    )
    await remit(svc, x835("75", "TR-3", by_patient), "TR-3")
    assert await rows(svc, "SELECT * FROM claim_postings") == []
    assert await timers.rematch(svc) == 0  # not before its wait
    assert svc.pool is not None
    await svc.pool.execute(
        "UPDATE unmatched SET received_at = now() - make_interval(secs => $1 + 1)",
        LOOK_ALIKE_AFTER_S,
    )
    assert await timers.rematch(svc) == 1
    [posting] = await rows(svc, "SELECT claim_id, matched_by FROM claim_postings")
    assert (posting["claim_id"], posting["matched_by"]) == ("CLAIM-4", "patient_date_amount")
    assert await rows(svc, "SELECT * FROM unmatched WHERE resolved_at IS NULL") == []
