"""The clearinghouse's rules: which interchange a message carries, which claims its front
end rejects, and what each claim of an interchange is told (999, 277CA) and left in."""

from __future__ import annotations

import datetime as dt

import pytest

from schemas.events import AckKind, ClaimSubmitted
from services.simulator import clearinghouse
from services.simulator.config import SimulatorSettings
from services.simulator.model import ClaimIn
from services.simulator.samples import Claim837 as C
from services.simulator.samples import Line837 as L
from services.simulator.samples import build_set, interchange
from services.simulator.x12_277ca import ClaimAck
from services.simulator.x12_837 import claim_numbers_by_set, read_837, triage_837

pytestmark = pytest.mark.unit


def test_an_interchange_is_told_apart_by_its_sender_and_control_number() -> None:
    text = interchange(build_set([C("CA", [L("99213", "120")])]), icn=77)
    assert clearinghouse.interchange_id(text) == ("SUB01", "000000077")


def test_every_claim_hears_the_999_of_its_own_set() -> None:
    good = build_set([C("CG1", [L("99213", "120")]), C("CG2", [L("99214", "180")])])
    bad = build_set([C("CB1", [L("99213", "120")])], st02="0002", count_fix=1)
    text = interchange(good, bad)
    acks = clearinghouse.set_acks(triage_837(text), claim_numbers_by_set(text), "999 TEXT")
    assert [(pcn, a.accepted) for pcn, a in acks] == [
        ("CG1", True),
        ("CG2", True),
        ("CB1", False),
    ]
    assert all(a.kind is AckKind.ack_999 and a.x12 == "999 TEXT" for _, a in acks)
    assert all(a.claim_id == pcn == a.patient_control_number for pcn, a in acks)
    assert [e.code for e in acks[2][1].errors] == ["999-R"]
    assert "SE01" in acks[2][1].errors[0].message
    assert acks[0][1].errors == []


def test_a_claim_its_interchange_does_not_hold_is_rejected_by_name() -> None:
    text = interchange(build_set([C("CIN", [L("99213", "120")])]), icn=78)
    ev = ClaimSubmitted(
        claim_id="COUT", patient_control_number="COUT", payer_id="MCR01",
        interchange_control_number="000000078", group_control_number="17",
        transaction_control_number="0001", frequency_code="1", total_charge_cents=12000,
        x12=text,
    )  # fmt: skip
    ack = clearinghouse.not_in_interchange(ev, triage_837(text), "999 TEXT")
    assert (ack.claim_id, ack.accepted, ack.kind) == ("COUT", False, AckKind.ack_999)
    assert [e.code for e in ack.errors] == ["999-NOCLAIM"]
    assert "COUT" in ack.errors[0].message
    assert "000000078" in ack.errors[0].message


def claims(*specs: C) -> list[ClaimIn]:
    return list(read_837(interchange(build_set(list(specs)))).claims())


def test_front_end_edits_reject_what_cannot_be_routed_even_when_switched_off() -> None:
    unknown_payer, no_member, clean = claims(
        C("CU", [L("99213", "120")], payer_id="ZZZ99"),
        C("CM", [L("99213", "120")], member=""),
        C("CC", [L("99213", "120")]),
    )
    on, off = SimulatorSettings(), SimulatorSettings(front_end_edits=False)
    assert [r.code for r in clearinghouse.edits(unknown_payer, on)] == ["116"]
    assert [r.code for r in clearinghouse.edits(unknown_payer, off)] == ["116"]
    assert [r.code for r in clearinghouse.edits(no_member, on)] == ["164"]
    assert clearinghouse.edits(no_member, off) == ()
    assert clearinghouse.edits(clean, on) == ()


def test_received_claims_keep_their_charge_service_span_and_first_rejection() -> None:
    spanned, rejected = claims(
        C("CS", [L("99213", "120", date="20250303"), L("36415", "25", date="20250307")]),
        C("CR", [L("99213", "120")], payer_id="ZZZ99", member=""),
    )
    acks = [
        ClaimAck(spanned),
        ClaimAck(rejected, clearinghouse.edits(rejected, SimulatorSettings())),
    ]
    assert clearinghouse.received_statuses(acks) == [
        ("MCR01", "CS", "MBR001", 14500, dt.date(2025, 3, 3), dt.date(2025, 3, 7), None, None),
        ("ZZZ99", "CR", "", 12000, dt.date(2025, 3, 3), dt.date(2025, 3, 3), "A3", "116"),
    ]


def test_a_277ca_acknowledgement_names_its_reasons_and_the_status_it_leaves() -> None:
    good, bad = claims(C("CG", [L("99213", "120")]), C("CB", [L("99213", "120")], member=""))
    accepted, status = clearinghouse.claim_ack(ClaimAck(good), "277 TEXT")
    assert (accepted.kind, accepted.accepted, accepted.errors, accepted.x12) == (
        AckKind.ack_277ca,
        True,
        [],
        "277 TEXT",
    )
    assert status == ("MCR01", "CG", "pending")
    reasons = clearinghouse.edits(bad, SimulatorSettings())
    rejected, status = clearinghouse.claim_ack(ClaimAck(bad, reasons), "277 TEXT")
    assert not rejected.accepted
    assert [e.code for e in rejected.errors] == ["A3:164"]
    assert status == ("MCR01", "CB", "rejected")
