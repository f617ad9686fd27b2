"""The wire codec: what a consumer gets from good bytes, and the reason for bad ones."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from schemas import generate
from schemas.codec import DecodeError, decode, decode_as, encode, new_meta
from schemas.events import ClaimHeld, EligibilityChecked, EncounterCreated
from schemas.registry import BY_TYPE
from tests.builders import encounter

pytestmark = pytest.mark.unit


def _encoded(enc: EncounterCreated):  # type: ignore[no-untyped-def]
    meta = new_meta(
        enc,
        source="test",
        tenant="t1",
        correlation_id="C1",
        causation_id="x",
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    return meta, encode(enc, meta)


def test_round_trip_keeps_event_and_cloudevents_headers() -> None:
    enc = encounter()
    meta, x = _encoded(enc)
    assert x.topic == "encounter.created"
    assert x.key == enc.encounter_id.encode()
    headers = dict(x.headers)
    assert headers["ce_type"] == b"rcm.encounter.created.v1"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["content-type"] == b"application/json"
    assert headers["ce_tenantid"] == b"t1"
    assert headers["traceparent"].startswith(b"00-0af7")
    got_meta, got = decode_as(EncounterCreated, x.value, x.headers)
    assert got == enc
    assert got_meta.id == meta.id
    assert got_meta.causation_id == "x"


def test_money_is_integer_cents_on_the_wire() -> None:
    enc = encounter()
    _, x = _encoded(enc)
    body = orjson.loads(x.value)
    assert body["lines"][0]["charge_cents"] == enc.lines[0].charge_cents
    assert isinstance(body["lines"][0]["charge_cents"], int)


def test_the_body_keeps_its_wire_form_percent_as_text_names_as_utf8() -> None:
    """The body's bytes are what consumers of earlier releases read: a percent is a
    decimal string (never a float), a date ISO, a name's accents raw UTF-8, and the bytes
    are the same as the JSON of the event's plain form."""
    base = encounter()
    enc = base.model_copy(
        update={"patient": base.patient.model_copy(update={"first_name": "José Ñuñez"})}
    )
    ev = EligibilityChecked(
        claim_id="CL1",
        encounter_id=enc.encounter_id,
        active=True,
        payer_id="MCR01",
        coinsurance_percent=Decimal("20.5"),
        copay_cents=2500,
        encounter=enc,
    )
    x = encode(ev, new_meta(ev, source="test", tenant="t1", correlation_id="C1"))
    assert x.value == orjson.dumps(ev.model_dump(mode="json"))
    assert b'"coinsurance_percent":"20.5"' in x.value
    assert "José Ñuñez".encode() in x.value
    assert f'"date_of_service":"{enc.date_of_service.isoformat()}"'.encode() in x.value
    assert decode_as(EligibilityChecked, x.value, x.headers)[1] == ev


def test_unknown_fields_are_ignored_within_a_major_version() -> None:
    enc = encounter()
    _, x = _encoded(enc)
    body = orjson.loads(x.value)
    body["added_in_a_later_minor_version"] = {"anything": 1}
    assert decode(orjson.dumps(body), x.headers).event == enc


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda v, h: (b"{not json", h), "not-json"),
        (lambda v, h: (orjson.dumps({"encounter_id": "E1"}), h), "schema-invalid"),
        (
            lambda v, h: (
                v,
                [(k, b"rcm.encounter.created.v9" if k == "ce_type" else x) for k, x in h],
            ),
            "unknown-type",
        ),
        (lambda v, h: (v, [(k, x) for k, x in h if k != "ce_tenantid"]), "missing-header"),
        (
            lambda v, h: (v, [(k, b"0.3" if k == "ce_specversion" else x) for k, x in h]),
            "unknown-specversion",
        ),
        (lambda v, h: (b"x" * 1_000_001, h), "oversize"),
        (lambda v, h: (None, h), "empty-body"),
        (lambda v, h: (v, [*h, ("x-origin", b"\xffEHR")]), "bad-header"),
        (lambda v, h: (v, [(k, None if k == "ce_id" else x) for k, x in h]), "missing-header"),
    ],
)
def test_bad_messages_raise_with_the_reason(mutate, reason) -> None:  # type: ignore[no-untyped-def]
    _, x = _encoded(encounter())
    value, headers = mutate(x.value, x.headers)
    with pytest.raises(DecodeError) as err:
        decode(value, headers)
    assert err.value.reason == reason


def test_headers_given_as_text_or_once_only_read_the_same() -> None:
    # a record's headers may come as text, or as an iterator that can be read only once
    _, x = _encoded(encounter())
    as_text = [(k, v.decode()) for k, v in x.headers]
    once = iter([*as_text, ("x-note", None)])
    assert decode(x.value, as_text).meta == decode(x.value, x.headers).meta  # type: ignore[arg-type]
    assert decode(x.value, once).meta == decode(x.value, x.headers).meta  # type: ignore[arg-type]


def test_schema_errors_name_fields_but_not_values() -> None:
    _, x = _encoded(encounter())
    body = orjson.loads(x.value)
    body["patient"]["birth_date"] = "Jane-Secret"
    with pytest.raises(DecodeError) as err:
        decode(orjson.dumps(body), x.headers)
    assert "patient.birth_date" in str(err.value)
    assert "Jane-Secret" not in str(err.value)


def test_a_type_on_the_wrong_topic_is_refused() -> None:
    _, x = _encoded(encounter())
    with pytest.raises(DecodeError) as err:
        decode_as(ClaimHeld, x.value, x.headers)
    assert err.value.reason == "unexpected-type"


def test_every_type_carries_its_major_version() -> None:
    assert all(t.rsplit(".", 1)[-1].startswith("v") for t in BY_TYPE)


def test_json_schema_files_match_the_models() -> None:
    stale = [
        p for p, text in generate.rendered().items() if not p.exists() or p.read_text() != text
    ]
    assert stale == [], "run `python -m schemas.generate`"


def test_event_ids_are_uuid7_and_grow_with_time() -> None:
    """Every service's processed_messages is keyed by the event id: ids made later sort
    later (as text too, which is how they are stored), so inserts land at the right edge
    of the index instead of on a random page."""
    import time
    import uuid

    enc = encounter()
    ids: list[str] = []
    for _ in range(3):
        ids += [_encoded(enc)[0].id for _ in range(50)]
        time.sleep(0.002)
    parsed = [uuid.UUID(i) for i in ids]
    assert {(u.version, u.variant) for u in parsed} == {(7, uuid.RFC_4122)}
    assert len(set(ids)) == len(ids)
    now_ms = time.time_ns() // 1_000_000
    assert all(now_ms - 5_000 <= u.int >> 80 <= now_ms for u in parsed)  # Unix ms on top
    blocks = [ids[0:50], ids[50:100], ids[100:150]]
    assert max(blocks[0]) < min(blocks[1])
    assert max(blocks[1]) < min(blocks[2])
