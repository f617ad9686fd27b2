"""The CAQH CORE envelope (runtime/core_envelope.py): both wire forms carry every field
and the credentials, the receiver's check names the rule's error code for each fault,
and the sender's reading of a code says what to do."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from runtime import core_envelope as ce

pytestmark = pytest.mark.unit

AT = dt.datetime(2026, 12, 7, 20, 30, 5, tzinfo=dt.UTC)
X12 = "ISA*00*          *00*          *ZZ*RCMPIPELINE    *ZZ*SIMCLEARHOUSE  ~ST*270*0001~"
TYPES = frozenset(ce.RESPONSE_TYPE)


def req(**kw: str) -> ce.Envelope:
    env = ce.request(
        "X12_270_Request_005010X279A1", X12, sender_id="RCMPIPELINE",
        receiver_id="SIMCLEARHOUSE", at=AT, payload_id="f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
    )  # fmt: skip
    return dataclasses.replace(env, **kw)


def test_a_request_carries_the_rules_fields() -> None:
    f = req().fields()
    assert list(f) == list(ce.FIELDS)
    assert f["ProcessingMode"] == "RealTime"
    assert f["TimeStamp"] == "2026-12-07T20:30:05Z"
    assert f["CORERuleVersion"] == "2.2.0"
    assert f["Checksum"] == ce.checksum(X12)


def test_soap_round_trip_keeps_every_field_and_the_username_token() -> None:
    body = ce.encode_soap(req(), username="RCMPIPELINE", password="s3cret&<x>")
    assert b"http://www.w3.org/2003/05/soap-envelope" in body
    assert b"COREEnvelopeRealTimeRequest" in body
    assert b"#PasswordText" in body
    fields, user, password = ce.decode_soap(body)
    assert ce.Envelope.from_fields(fields) == req()
    assert (user, password) == ("RCMPIPELINE", "s3cret&<x>")


def test_multipart_round_trip_keeps_every_field_and_the_credentials() -> None:
    parts = ce.multipart_parts(req(), username="RCMPIPELINE", password="pw")
    names = [n for n, _ in parts]
    assert names[names.index("ReceiverID") + 1 : names.index("ReceiverID") + 3] == [
        "UserName",
        "Password",
    ]
    body, content_type = ce.encode_multipart(parts)
    assert content_type.startswith("multipart/form-data; boundary=")
    fields = ce.decode_multipart(body, content_type)
    assert ce.Envelope.from_fields(fields) == req()
    assert (fields["UserName"], fields["Password"]) == ("RCMPIPELINE", "pw")


def test_a_response_answers_the_same_payload_id_with_sender_and_receiver_swapped() -> None:
    answer = ce.response(req(), payload="ISA*271~", at=AT, receiver_id="SIMCLEARHOUSE")
    assert answer.payload_type == "X12_271_Response_005010X279A1"
    assert answer.payload_id == req().payload_id
    assert (answer.sender_id, answer.receiver_id) == ("SIMCLEARHOUSE", "RCMPIPELINE")
    assert answer.error_code == "Success"
    body = ce.encode_soap(answer, username=None, password=None, response=True)
    fields, user, _ = ce.decode_soap(body)
    assert user is None
    assert ce.Envelope.from_fields(fields) == answer


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"payload_type": "X12_837_Request_005010X222A1"}, "PayloadTypeIllegal"),
        ({"processing_mode": "Batch"}, "ProcessingModeIllegal"),
        ({"payload_id": "has spaces in it"}, "PayloadIDIllegal"),
        ({"timestamp": "07/12/2026 20:30"}, "TimeStampIllegal"),
        ({"sender_id": "x" * 51}, "SenderIDIllegal"),
        ({"rule_version": "1.1.0"}, "VersionMismatch"),
        ({"checksum": "abc"}, "ChecksumIllegal"),
        ({"payload": X12 + "SE*2*0001~"}, "ChecksumMismatched"),
        ({"sender_id": ""}, "SenderIDRequired"),
        ({"payload_id": " "}, "PayloadIDRequired"),
    ],
)
def test_the_receiver_names_the_rules_code_for_each_fault(
    change: dict[str, str], code: str
) -> None:
    assert ce.check(req(), payload_types=TYPES) is None
    found = ce.check(req(**change), payload_types=TYPES)
    assert found is not None
    assert found[0] == code


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("Success", ce.Outcome.OK),
        ("Busy", ce.Outcome.RETRY),
        ("UnAuthorized", ce.Outcome.UNAUTHORIZED),
        ("Sender not authorized", ce.Outcome.UNAUTHORIZED),
        ("PayloadIDRequired", ce.Outcome.REJECTED),
        ("VersionMismatch", ce.Outcome.REJECTED),
        ("SomethingNew", ce.Outcome.REJECTED),
    ],
)
def test_the_sender_reads_each_code(code: str, outcome: ce.Outcome) -> None:
    assert ce.classify(code) == outcome


def test_xml_entities_are_not_expanded() -> None:
    """An answer defining an entity that reads a local file gets nothing from it."""
    hostile = (
        b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>'
        b'<c:COREEnvelopeRealTimeResponse xmlns:c="http://www.caqh.org/SOAP/WSDL/CORERule2.2.0.xsd">'
        b"<Payload>&x;</Payload></c:COREEnvelopeRealTimeResponse></e:Body></e:Envelope>"
    )
    fields, _, _ = ce.decode_soap(hostile)
    assert "root:" not in fields["Payload"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not xml at all", "not well-formed XML"),
        (b"<a/>", "not a SOAP 1.2 envelope"),
    ],
)
def test_what_is_no_envelope_says_so(body: bytes, problem: str) -> None:
    with pytest.raises(ce.EnvelopeError, match=problem):
        ce.decode_soap(body)


def test_a_payload_with_line_breaks_survives_the_multipart_form() -> None:
    wrapped = X12.replace("~", "~\r\n") + "\r\n\r\n"
    env = req(payload=wrapped, checksum=ce.checksum(wrapped))
    body, content_type = ce.encode_multipart(ce.multipart_parts(env, username=None, password=None))
    fields = ce.decode_multipart(body, content_type)
    assert fields["Payload"] == wrapped
    assert ce.check(ce.Envelope.from_fields(fields), payload_types=TYPES) is None
