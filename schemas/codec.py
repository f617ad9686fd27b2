"""The one wire codec: CloudEvents binary mode over Kafka, JSON body.

Headers carry the CloudEvents attributes (``ce_id``, ``ce_type``, ``ce_source``,
``ce_time``, ``ce_specversion``, ``content-type``), ``traceparent``, and the
extensions ``ce_tenantid``, ``ce_correlationid`` and ``ce_causationid``.
Every failure to decode raises :class:`DecodeError` with a reason that names
the problem, so the caller can dead-letter the message.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import ValidationError

from schemas.events import Event
from schemas.registry import BY_TYPE

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
MAX_MESSAGE_BYTES = 1_000_000

H_ID = "ce_id"
H_TYPE = "ce_type"
H_SOURCE = "ce_source"
H_TIME = "ce_time"
H_SPEC = "ce_specversion"
H_CONTENT_TYPE = "content-type"
H_TRACEPARENT = "traceparent"
H_TENANT = "ce_tenantid"
H_CORRELATION = "ce_correlationid"
H_CAUSATION = "ce_causationid"

REQUIRED = (H_ID, H_TYPE, H_SOURCE, H_TIME, H_SPEC, H_TENANT, H_CORRELATION)
_KNOWN = frozenset((*REQUIRED, H_CAUSATION, H_TRACEPARENT, H_CONTENT_TYPE))

Headers = Sequence[tuple[str, bytes]]
E = TypeVar("E", bound=Event)


class DecodeError(ValueError):
    """The message cannot be used. ``reason`` is a short machine-readable kind."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Meta:
    id: str
    type: str
    source: str
    time: dt.datetime
    tenant: str
    correlation_id: str
    causation_id: str | None = None
    traceparent: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def headers(self) -> list[tuple[str, bytes]]:
        out = [
            (H_ID, self.id.encode()),
            (H_TYPE, self.type.encode()),
            (H_SOURCE, self.source.encode()),
            (H_TIME, self.time.isoformat().encode()),
            (H_SPEC, SPECVERSION.encode()),
            (H_CONTENT_TYPE, CONTENT_TYPE.encode()),
            (H_TENANT, self.tenant.encode()),
            (H_CORRELATION, self.correlation_id.encode()),
        ]
        if self.causation_id:
            out.append((H_CAUSATION, self.causation_id.encode()))
        if self.traceparent:
            out.append((H_TRACEPARENT, self.traceparent.encode()))
        out.extend((k, v.encode()) for k, v in self.extra.items())
        return out


@dataclass(frozen=True, slots=True)
class Message:
    """A decoded message: metadata and the typed event."""

    meta: Meta
    event: Event


@dataclass(frozen=True, slots=True)
class Encoded:
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562, version 7): 48 bits of Unix milliseconds, then 74
    random bits. Event ids are the key of every service's ``processed_messages``; ids
    that grow with time land at the right edge of that B-tree instead of on a random
    page, so an insert seldom dirties a page that has to go to the WAL whole after a
    checkpoint (docs/performance.md has the figures)."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits; 74 are kept
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | (rand >> 68) << 64
    value |= 0b10 << 62 | (rand & 0x3FFF_FFFF_FFFF_FFFF)
    return uuid.UUID(int=value)


def new_meta(
    event: Event,
    *,
    source: str,
    tenant: str,
    correlation_id: str,
    causation_id: str | None = None,
    traceparent: str | None = None,
) -> Meta:
    return Meta(
        id=str(uuid7()),
        type=event.TYPE,
        source=source,
        time=dt.datetime.now(dt.UTC),
        tenant=tenant,
        correlation_id=correlation_id,
        causation_id=causation_id,
        traceparent=traceparent,
    )


def encode(event: Event, meta: Meta) -> Encoded:
    if meta.type != event.TYPE:
        raise ValueError(f"meta type {meta.type} does not match event {event.TYPE}")
    # pydantic-core writes the JSON itself: the same bytes as orjson over model_dump's
    # dict (tests/unit/test_codec.py), without the dict in between (11 us against 17
    # for an encounter.created).
    value = event.model_dump_json().encode()
    return Encoded(event.TOPIC, event.key().encode(), value, meta.headers())


def header_map(headers: Iterable[tuple[str, bytes | None]] | None) -> dict[str, str]:
    """The headers as text; a header with no value is left out."""
    pairs = headers if isinstance(headers, Sequence) else list(headers or ())
    try:  # the common case, in one comprehension: every value is UTF-8 bytes
        return {k: v.decode() for k, v in pairs if v is not None}
    except (AttributeError, UnicodeDecodeError):
        return _header_map_each(pairs)


def _header_map_each(headers: Iterable[tuple[str, bytes | None]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in headers or ():
        if v is None:
            continue
        try:
            out[k] = v.decode() if isinstance(v, bytes | bytearray) else str(v)
        except UnicodeDecodeError as exc:
            raise DecodeError("bad-header", f"header {k!r} is not UTF-8") from exc
    return out


def decode(value: bytes | None, headers: Iterable[tuple[str, bytes | None]] | None) -> Message:
    """Decode one Kafka record into a typed event, or raise DecodeError naming the problem."""
    h = header_map(headers)
    missing = [name for name in REQUIRED if not h.get(name)]
    if missing:
        raise DecodeError("missing-header", f"required CloudEvents headers absent: {missing}")
    if h[H_SPEC] != SPECVERSION:
        raise DecodeError("unknown-specversion", f"ce_specversion {h[H_SPEC]!r}")
    ctype = h.get(H_CONTENT_TYPE, CONTENT_TYPE)
    if not ctype.startswith(CONTENT_TYPE):
        raise DecodeError("unsupported-content-type", f"content-type {ctype!r}")
    model = BY_TYPE.get(h[H_TYPE])
    if model is None:
        raise DecodeError("unknown-type", f"no contract for ce_type {h[H_TYPE]!r}")
    if value is None:
        raise DecodeError("empty-body", "the message has no value")
    if len(value) > MAX_MESSAGE_BYTES:
        raise DecodeError("oversize", f"{len(value)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        # pydantic-core parses and validates in one pass, with no dict in between.
        event = model.model_validate_json(value)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        if first["type"] == "json_invalid":
            raise DecodeError("not-json", first["msg"]) from exc
        raise DecodeError("schema-invalid", _summarise(exc)) from exc
    try:
        time = dt.datetime.fromisoformat(h[H_TIME])
    except ValueError as exc:
        raise DecodeError("bad-header", f"ce_time {h[H_TIME]!r} is not RFC 3339") from exc
    meta = Meta(
        id=h[H_ID],
        type=h[H_TYPE],
        source=h[H_SOURCE],
        time=time,
        tenant=h[H_TENANT],
        correlation_id=h[H_CORRELATION],
        causation_id=h.get(H_CAUSATION),
        traceparent=h.get(H_TRACEPARENT),
        extra={k: v for k, v in h.items() if k not in _KNOWN},
    )
    return Message(meta, event)


def decode_as(model: type[E], value: bytes | None, headers: Headers | None) -> tuple[Meta, E]:
    msg = decode(value, headers)
    if not isinstance(msg.event, model):
        raise DecodeError("unexpected-type", f"{msg.meta.type} where {model.TYPE} was expected")
    return msg.meta, msg.event


def _summarise(exc: ValidationError) -> str:
    """Field-level errors, without echoing input values (they may be PHI)."""
    parts = []
    for err in exc.errors()[:10]:
        loc = ".".join(str(p) for p in err["loc"]) or "<body>"
        parts.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - 10
    if more > 0:
        parts.append(f"... and {more} more")
    return "; ".join(parts)
