"""Reading one element of a segment: amounts to exact cents, dates, required and optional
text. Each failure is an X12Error naming the element (``CLP03``), its segment number and
its position."""

from __future__ import annotations

import datetime as dt

from runtime.x12 import X12Error, d8_element
from services.remittance.x12_835.model import Amount

_new = tuple.__new__  # NamedTuple construction without the Python-level __new__ frame


def amount(seg: list[str], pos: int, n: int) -> Amount:
    """A required R-type amount at element ``pos``."""
    text = seg[pos] if pos < len(seg) else ""
    if text.isascii():  # fast path: unsigned, at most two decimals
        whole, dot, frac = text.partition(".")
        if whole.isdigit():
            if not dot:
                return _new(Amount, (int(whole) * 100, text))
            if frac.isdigit():
                if len(frac) == 2:
                    return _new(Amount, (int(whole + frac), text))
                if len(frac) == 1:  # "73.6": payers drop the trailing zero
                    return _new(Amount, (int(whole + frac) * 10, text))
    cents = to_cents(text)
    if cents is None:
        what = "is missing" if not text else f"is not a decimal amount: {text[:40]!r}"
        raise X12Error(f"{seg[0]}{pos:02d} {what}", segment=n, position=pos)
    return Amount(cents, text)


def opt_amount(seg: list[str], pos: int, n: int) -> Amount | None:
    if pos >= len(seg) or not seg[pos]:
        return None
    return amount(seg, pos, n)


def to_cents(text: str) -> int | None:
    """Exact cents of an X12 R amount, or None when it is not one."""
    if not text.isascii():
        return None
    whole, dot, frac = text.partition(".")
    if whole.isdigit():  # the common case: unsigned, at most two decimals
        if not dot:
            return int(whole) * 100
        if len(frac) == 2 and frac.isdigit():
            return int(whole + frac)
    return _to_cents_slow(text)


def _to_cents_slow(text: str) -> int | None:
    if not text:
        return None
    sign = 1
    if text[0] in "+-":
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    whole, _dot, frac = text.partition(".")
    if whole and not whole.isdigit():
        return None
    if frac:
        if not frac.isdigit() or (len(frac) > 2 and frac[2:].strip("0")):
            return None
        frac = (frac + "0")[:2]
    elif not whole:
        return None
    return sign * (int(whole or "0") * 100 + int(frac or "0"))


def opt_date(seg: list[str], pos: int, n: int) -> dt.date | None:
    text = seg[pos] if pos < len(seg) else ""
    if not text:
        return None
    return d8_element(text, seg, pos, n)


def el(seg: list[str], pos: int) -> str:
    return seg[pos] if pos < len(seg) else ""


def need(seg: list[str], pos: int, n: int) -> str:
    if pos < len(seg) and seg[pos]:
        return seg[pos]
    raise X12Error(f"{seg[0]}{pos:02d} is missing", segment=n, position=pos)
