"""What every 837P loop writer shares: the delimiter-safe text, identifier and code
cleaners, segments, dates, addresses, and the error naming a claim that cannot be
written. Pure."""

from __future__ import annotations

import datetime as dt
import functools
import unicodedata

from schemas.common import Address, Coverage, Person

_DELIMS = "*~:^"
_TEXT_CLEAN = str.maketrans(dict.fromkeys(_DELIMS + "\r\n\t", " "))


class Unbuildable(ValueError):
    """A claim that cannot be rendered as an 837P. Names the claim and the field."""

    def __init__(self, claim_id: str, field: str, problem: str = "is missing") -> None:
        super().__init__(f"claim {claim_id}: {field} {problem}")
        self.claim_id = claim_id
        self.field = field
        self.problem = problem


def _seg(*elements: str) -> str:
    """One segment with the default delimiters, trailing empty elements dropped.

    A faster runtime.x12.segment for this writer's hot path: it is only ever given
    text that _text/_ident/_code made delimiter-free, so trailing '*' can only come
    from empty elements.
    """
    return "*".join(elements).rstrip("*") + "~"


def _d8(day: dt.date) -> str:
    return day.isoformat().replace("-", "")


def filing_indicator(cov: Coverage, claim_id: str) -> str:
    """SBR09: the coverage's claim filing indicator, which the batcher takes from the
    tenant's payer directory (services/claims/payers.py). Never guessed from the id."""
    if not cov.filing_indicator:
        raise Unbuildable(
            claim_id,
            "coverage.filing_indicator",
            f"is unknown for payer {cov.payer_id} (not in the payer directory)",
        )
    return cov.filing_indicator


@functools.lru_cache(maxsize=16384)
def _clean(value: str) -> str:
    if not value.isascii():
        value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return " ".join(value.translate(_TEXT_CLEAN).split()).upper()


def _text(value: str, claim_id: str, field: str) -> str:
    """Free text (names, addresses): upper case ASCII, delimiters replaced by spaces."""
    out = _clean(value)
    if not out:
        raise Unbuildable(claim_id, field, "is empty once made X12-safe")
    return out


def _ident(value: str, claim_id: str, field: str) -> str:
    """An identifier must survive unchanged: refuse rather than alter it."""
    if not value or not value.isprintable() or not value.isascii() or value != value.strip():
        raise Unbuildable(claim_id, field, f"is not a usable X12 identifier: {value!r}")
    for c in _DELIMS:
        if c in value:
            raise Unbuildable(claim_id, field, f"contains the X12 delimiter {c!r}: {value!r}")
    return value


def _code(value: str, claim_id: str, field: str) -> str:
    if not value.isascii() or not value.isalnum():
        raise Unbuildable(claim_id, field, f"is not an alphanumeric code: {value!r}")
    return value.upper()


def _address(addr: Address, claim_id: str, field: str) -> list[str]:
    n3 = _seg(
        "N3",
        _text(addr.line1, claim_id, f"{field}.line1"),
        _text(addr.line2, claim_id, f"{field}.line2") if addr.line2 else "",
    )
    n4 = _seg(
        "N4",
        _text(addr.city, claim_id, f"{field}.city"),
        _code(addr.state, claim_id, f"{field}.state"),
        _code(addr.postal_code, claim_id, f"{field}.postal_code"),
    )
    return [n3, n4]


def _person_name(person: Person, claim_id: str, field: str) -> tuple[str, str]:
    return (
        _text(person.last_name, claim_id, f"{field}.last_name"),
        _text(person.first_name, claim_id, f"{field}.first_name"),
    )
