"""Whatever bytes arrive, readers answer with their own clear error, never a crash."""

from __future__ import annotations

import contextlib

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.x12 import X12Error
from schemas.codec import DecodeError, decode, encode, new_meta
from services.claims.x12_276 import read_277
from services.eligibility.x12_271 import parse_271
from services.simulator.x12_837 import read_837, triage_837
from tests.builders import encounter

pytestmark = pytest.mark.unit

_ENC = encounter()
_GOOD = encode(_ENC, new_meta(_ENC, source="t", tenant="t", correlation_id="c"))


def _reason(value: bytes, headers: list[tuple[str, bytes]]) -> str | None:
    """The decoder's verdict: None when it decodes, else its reason. Anything else raises."""
    try:
        decode(value, headers)
    except DecodeError as exc:
        return exc.reason
    return None


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_intake_bytes_decode_or_say_why(raw: bytes) -> None:
    assert _reason(raw, _GOOD.headers) in {None, "not-json", "schema-invalid", "oversize"}


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_intake_json_of_any_shape_decodes_or_says_why(value: object) -> None:
    assert _reason(orjson.dumps(value), _GOOD.headers) == "schema-invalid"


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(list(_ENC.model_dump(mode="json"))), json_values))
def test_intake_with_fields_replaced_by_anything(changes: dict[str, object]) -> None:
    body = {**_ENC.model_dump(mode="json"), **changes}
    assert _reason(orjson.dumps(body), _GOOD.headers) in {None, "schema-invalid"}


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "ce_id",
                    "ce_type",
                    "ce_time",
                    "ce_specversion",
                    "ce_tenantid",
                    "content-type",
                    "ce_source",
                ]
            ),
            st.binary(max_size=40),
        ),
        max_size=10,
    )
)
def test_intake_headers_of_any_kind(overrides: list[tuple[str, bytes]]) -> None:
    headers = dict(_GOOD.headers)
    headers.update(dict(overrides))
    reason = _reason(_GOOD.value, list(headers.items()))
    assert reason is None or reason.replace("-", "").isalpha()


_SEGMENTS = [
    "ISA",
    "GS",
    "ST",
    "BHT",
    "HL",
    "NM1",
    "CLM",
    "SV1",
    "LX",
    "HI",
    "SBR",
    "SE",
    "GE",
    "IEA",
    "N3",
    "N4",
    "DMG",
    "REF",
    "DTP",
    "PRV",
]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_SEGMENTS),
            st.lists(st.text(alphabet="AB019:*.-^ ", max_size=12), max_size=8),
        ),
        max_size=40,
    ),
    st.booleans(),
)
def test_837_reader_never_crashes(segs: list[tuple[str, list[str]]], triage: bool) -> None:
    text = _x12(segs)
    with contextlib.suppress(X12Error):
        (triage_837 if triage else read_837)(text)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=600))
def test_837_reader_on_any_text(text: str) -> None:
    with contextlib.suppress(X12Error):
        read_837(text)


_271_SEGMENTS = [
    "ST",
    "BHT",
    "HL",
    "NM1",
    "TRN",
    "DMG",
    "DTP",
    "EB",
    "AAA",
    "MSG",
    "III",
    "REF",
    "INS",
    "LS",
    "LE",
    "SE",
    "GS",
    "GE",
    "IEA",
]
_ISA = (
    "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       "
    "*250101*1200*^*00501*000000001*0*T*:~"
)


def _x12(segs: list[tuple[str, list[str]]]) -> str:
    return _ISA + "".join("*".join([name, *els]) + "~" for name, els in segs)


_segments_of = st.lists(
    st.tuples(
        st.sampled_from([*_271_SEGMENTS, "STC", "QTY", "AMT", "SVC"]),
        st.lists(st.text(alphabet="AB019:*.-^ ", max_size=12), max_size=8),
    ),
    max_size=40,
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(_segments_of)
def test_271_reader_never_crashes(segs: list[tuple[str, list[str]]]) -> None:
    with contextlib.suppress(X12Error):
        parse_271(_x12(segs))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(_segments_of)
def test_277_status_reader_never_crashes(segs: list[tuple[str, list[str]]]) -> None:
    with contextlib.suppress(X12Error):
        read_277(_x12(segs))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=600))
def test_271_and_277_readers_on_any_text(text: str) -> None:
    with contextlib.suppress(X12Error):
        parse_271(text)
    with contextlib.suppress(X12Error):
        read_277(text)
