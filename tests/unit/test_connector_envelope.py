"""The connector accepts a file only as one whole interchange: what each broken one is
refused for, in words that name the fault."""

from __future__ import annotations

import datetime as dt

import pytest

from services.connector.config import Account
from services.connector.envelope import EnvelopeError, check
from services.connector.outbound import file_name
from tests.connector_files import ack_277ca, ack_999, claim_837, remit_835

pytestmark = pytest.mark.unit


def test_whole_files_are_read_for_their_kind_and_control_number() -> None:
    remit = check(remit_835())
    assert (remit.kind, remit.control_number, remit.trace_number) == ("835", "000000195", "12345")
    assert remit.payer_id == "1512345678"
    named = remit_835().replace(
        b"N4*CENTERVILLE*PA*17111~", b"N4*CENTERVILLE*PA*17111~REF*2U*MCR01~"
    )
    named = named.replace(b"SE*190*", b"SE*191*")
    assert check(named).payer_id == "MCR01"  # the payer id claims sent to (1000A REF*2U)
    assert check(ack_999(42)).kind == "999"
    assert check(ack_277ca(43)).kind == "277CA"
    assert check(claim_837(44)).control_number == "000000044"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"%PDF-1.7 not an interchange", "not X12"),
        (b"", "not X12"),
        ("ISA*00*caf\u00e9".encode(), "not ASCII"),
        (ack_999(7)[:-30], "truncated"),
        (ack_999(7).replace(b"IEA*1*", b"IEA*2*"), "IEA01 says 2, 1 GS found"),
        (ack_999(7).replace(b"GE*1*", b"GE*3*"), "GE01 says 3, 1 ST found"),
        (ack_999(7).replace(b"SE*4*", b"SE*9*"), "SE01 says 9, 4 segments found"),
        (ack_999(7).replace(b"IEA*1*000000007", b"IEA*1*000000008"), "IEA02 '000000008'"),
        (ack_999(7) + b"ST*999*0002~", "segments after IEA"),
    ],
)
def test_a_broken_file_is_refused_naming_the_fault(data: bytes, words: str) -> None:
    with pytest.raises(EnvelopeError, match=words):
        check(data)


def test_the_upload_name_follows_the_accounts_rule() -> None:
    account = Account(
        name="availity",
        tenant="t1",
        username="u",
        known_hosts="/dev/null",  # type: ignore[arg-type]
        name_rule="{tenant}-{icn}-{date}.{time}.x12",
    )
    at = dt.datetime(2026, 12, 7, 9, 30, 5, tzinfo=dt.UTC)
    assert file_name(account, "t1", check(claim_837(44)), at) == "t1-000000044-20261207.093005.x12"
    bad = account.model_copy(update={"name_rule": "../{icn}"})
    with pytest.raises(EnvelopeError, match="plain file name"):
        file_name(bad, "t1", check(claim_837(44)), at)
