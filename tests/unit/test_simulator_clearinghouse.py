"""The clearinghouse's rules: which interchange a message carries, which claims its front
end rejects, and what each claim of an interchange is told (999, 277CA) and left in."""

from __future__ import annotations

import datetime as dt

import pytest

from services.simulator import clearinghouse
from services.simulator.config import SimulatorSettings
from services.simulator.model import ClaimIn
from services.simulator.samples import Claim837 as C
from services.simulator.samples import Line837 as L
from services.simulator.samples import build_set, interchange
from services.simulator.x12_277ca import ClaimAck
from services.simulator.x12_837 import read_837

pytestmark = pytest.mark.unit


def test_an_interchange_is_told_apart_by_its_sender_and_control_number() -> None:
    text = interchange(build_set([C("CA", [L("99213", "120")])]), icn=77)
    assert clearinghouse.interchange_id(text) == ("SUB01", "000000077")


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
