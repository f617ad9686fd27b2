"""Trading-partner identity per tenant (services/claims/partners.py): the file a
practice loads, each mistake named by its column, and an 837P written under it (ISA ids
apart from the 1000A id, its own GS codes, the PER contact with an email), valid to
pyx12."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from runtime.settings import Settings
from services.claims.partners import PartnerFileError, identity, parse
from services.claims.x12_837 import ControlNumbers, Outgoing, render_837p
from tests.pyx12check import problems
from tests.unit import factories as f

pytestmark = pytest.mark.unit

HEADER = (
    "isa_sender_qualifier,isa_sender_id,isa_receiver_qualifier,isa_receiver_id,"
    "gs_sender_code,gs_receiver_code,submitter_name,submitter_id,contact_name,"
    "contact_phone,contact_email,receiver_name,receiver_id\n"
)
ROW = (
    "30,123456789,ZZ,CLEARINGHSE01,PRACTICEGS,CHGS,MAPLE FAMILY MEDICINE,SUBM-778899,"
    "DANA BILLER,(802) 555-0142,billing@maple.example,ACME CLEARINGHOUSE,ACMERCV-01\n"
)


def test_a_practices_file_becomes_its_identity() -> None:
    tp = parse(HEADER + ROW)
    assert (tp.isa_sender_qualifier, tp.isa_sender_id) == ("30", "123456789")
    assert (tp.gs_sender_code, tp.gs_receiver_code) == ("PRACTICEGS", "CHGS")
    assert tp.contact_phone == "8025550142"
    assert tp.contact_email == "billing@maple.example"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("30,", "31,"), "column isa_sender_qualifier: '31' is no ISA id qualifier"),
        (("CLEARINGHSE01", "CLEARINGHOUSE0001"), "column isa_receiver_id: 1-15 characters"),
        (("PRACTICEGS", "PRACTICE*GS"), "column gs_sender_code: an X12 delimiter"),
        (("(802) 555-0142", "555-0142"), "column contact_phone: 10 digits needed"),
        (("billing@maple.example", "billing at maple"), "column contact_email"),
        (("DANA BILLER", ""), "column contact_name is required"),
    ],
)
def test_each_mistake_is_named_by_its_column(change: tuple[str, str], problem: str) -> None:
    with pytest.raises(PartnerFileError, match=problem.replace("*", r"\*")):
        parse(HEADER + ROW.replace(*change, 1))


def test_a_file_with_two_tenants_rows_is_refused() -> None:
    with pytest.raises(PartnerFileError, match="one row, found 2"):
        parse(HEADER + ROW + ROW)


def test_an_837_under_the_identity_carries_it_and_passes_pyx12(tmp_path: Path) -> None:
    me = identity(parse(HEADER + ROW), Settings())
    text = render_837p(
        [Outgoing(f.claim(1))],
        control=ControlNumbers(interchange=901, group=77, transaction_start=1),
        submitter=me.submitter,
        receiver=me.receiver,
        contact_phone=me.contact_phone,
        contact_name=me.contact_name,
        contact_email=me.contact_email,
        at=dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC),
    )
    segs = [s.split("*") for s in text.split("~") if s]
    isa, gs = segs[0], segs[1]
    assert (isa[5], isa[6].strip(), isa[7], isa[8].strip()) == (
        "30",
        "123456789",
        "ZZ",
        "CLEARINGHSE01",
    )
    assert (gs[2], gs[3]) == ("PRACTICEGS", "CHGS")
    assert ["NM1", "41", "2", "MAPLE FAMILY MEDICINE", "", "", "", "", "46", "SUBM-778899"] in segs
    assert ["PER", "IC", "DANA BILLER", "TE", "8025550142", "EM", "billing@maple.example"] in segs
    assert ["NM1", "40", "2", "ACME CLEARINGHOUSE", "", "", "", "", "46", "ACMERCV-01"] in segs
    assert problems(tmp_path / "partner.837", text) == []


def test_without_a_row_the_install_settings_are_used() -> None:
    s = Settings()
    me = identity(None, s)
    assert (me.submitter.interchange_id, me.receiver.interchange_id) == (
        s.x12_submitter_id,
        s.x12_receiver_id,
    )
    assert me.contact_email is None
