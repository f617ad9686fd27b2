"""What each claim event adds to the live KPIs, and the KPIs a window's sums make."""

from __future__ import annotations

import pytest

from schemas.events import AckKind, AdjudicationStatus
from services.reporting import domain
from services.reporting.domain import ClaimMemo, Increment, Metric, Sum
from tests.reporting_data import ack, adjudicated, submitted

pytestmark = pytest.mark.unit


def test_a_submitted_claim_counts_its_charge_under_its_payer() -> None:
    incs, memo = domain.on_submitted(submitted("C1", "MCR01", 15000), None, "sub:0:1")
    assert incs == [
        Increment(Metric.submitted, "MCR01"),
        Increment(Metric.submitted_charge_cents, "MCR01", 15000),
    ]
    assert memo == ClaimMemo("MCR01", answered=False)


def test_a_replacement_claim_counts_as_corrected_and_keeps_its_first_verdict() -> None:
    incs, memo = domain.on_submitted(
        submitted("C1", "MCR01", 15000, frequency="7"),
        ClaimMemo("MCR01", answered=True),
        "sub:0:2",
    )
    assert Increment(Metric.corrected, "MCR01") in incs
    assert memo.answered


def test_a_999_that_accepts_the_file_is_no_verdict_on_the_claim() -> None:
    memo = ClaimMemo("PPO01")
    at = "claim.acknowledged:0:1"
    assert domain.on_acknowledged(ack("C1", AckKind.ack_999, True), memo, at) == ([], memo)


def test_only_the_first_verdict_counts_toward_first_pass_acceptance() -> None:
    memo = ClaimMemo("PPO01")
    incs, memo2 = domain.on_acknowledged(ack("C1", AckKind.ack_999, False), memo, "ack:0:1")
    assert incs == [
        Increment(Metric.rejected, "PPO01"),
        Increment(Metric.first_answered, "PPO01"),
    ]
    assert memo2 == ClaimMemo("PPO01", answered=True, answered_by="ack:0:1")
    # fixed and sent again, then accepted: a rejection was its first pass
    incs, _ = domain.on_acknowledged(ack("C1", AckKind.ack_277ca, True), memo2, "ack:0:2")
    assert incs == []


def test_a_rejection_read_before_its_submission_is_counted_for_the_payer_it_names() -> None:
    """The agent reads its topics each at its own pace: a 999 rejection can come first."""
    incs, memo = domain.on_acknowledged(ack("C2", AckKind.ack_999, False), None, "ack:0:5")
    assert incs == []  # no payer yet: the counts wait in the memo
    assert memo is not None
    assert memo.answered
    # the same rejection read again (after a crash) waits once, not twice
    assert domain.on_acknowledged(ack("C2", AckKind.ack_999, False), memo, "ack:0:5") == (
        [],
        memo,
    )
    incs, memo = domain.on_submitted(submitted("C2", "MCR01", 9000), memo, "sub:0:3")
    assert incs[2:] == [
        Increment(Metric.rejected, "MCR01"),
        Increment(Metric.first_answered, "MCR01"),
    ]
    # the claim, fixed and sent again, and accepted: no second first verdict
    incs, memo = domain.on_submitted(submitted("C2", "MCR01", 9000), memo, "sub:0:4")
    assert len(incs) == 2  # its own two counts, the waiting ones are in already
    incs, after = domain.on_acknowledged(ack("C2", AckKind.ack_277ca, True), memo, "ack:0:9")
    assert (incs, after) == ([], memo)
    # the first submission read again adds the waiting counts again: its window's offset
    # mark (handlers.KpiTables.add) says whether they are in already
    incs, _ = domain.on_submitted(submitted("C2", "MCR01", 9000), memo, "sub:0:3")
    assert Increment(Metric.first_answered, "MCR01") in incs
    assert ClaimMemo.from_json(memo.to_json()) == memo


def test_a_denial_counts_each_non_patient_carc_once() -> None:
    ev = adjudicated(
        "C1",
        "PPO01",
        AdjudicationStatus.denied,
        charge=16000,
        paid=0,
        patient=0,
        line_adjustments=(("CO", "197", 16000), ("CO", "197", 0), ("PR", "1", 0)),
    )
    incs = domain.on_adjudicated(ev)
    assert Increment(Metric.denied, "PPO01") in incs
    assert [i.code for i in incs if i.metric == Metric.denied_by_carc] == ["197"]


def test_a_reversal_takes_its_money_back_and_is_no_new_decision() -> None:
    ev = adjudicated("C1", "PPO01", AdjudicationStatus.reversed, charge=-16000, paid=-9000)
    incs = domain.on_adjudicated(ev)
    assert Increment(Metric.paid_cents, "PPO01", -9000) in incs
    assert Increment(Metric.reversed, "PPO01") in incs
    assert not any(i.metric == Metric.adjudicated for i in incs)


def test_kpis_add_payers_up_and_rate_to_four_places() -> None:
    sums = [
        Sum(Metric.first_answered, "A", "", 2),
        Sum(Metric.first_accepted, "A", "", 1),
        Sum(Metric.first_answered, "B", "", 1),
        Sum(Metric.first_accepted, "B", "", 1),
        Sum(Metric.adjudicated, "A", "", 3),
        Sum(Metric.denied, "A", "", 1),
        Sum(Metric.denied_by_carc, "A", "197", 1),
        Sum(Metric.paid_cents, "A", "", 12345),
    ]
    k = domain.kpis(sums)
    assert k["first_pass_acceptance_rate"] == "0.6667"
    assert k["denial_rate"] == "0.3333"
    assert k["denials_by_carc"] == [{"carc": "197", "claims": 1, "rate": "0.3333"}]
    assert k["paid_cents"] == 12345
    assert k["by_payer"]["B"]["first_pass_acceptance_rate"] == "1.0000"
    assert k["by_payer"]["B"]["denial_rate"] is None
