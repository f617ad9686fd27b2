"""Reading one element of a segment: amounts to exact cents, dates, required and optional
text. Each failure is an X12Error naming the element (``CLP03``), its segment number and
its position."""

from __future__ import annotations

import datetime as dt

from runtime.x12 import Warnings, X12Error, d8, d8_element
from services.remittance.x12_835.model import Amount

_new = tuple.__new__  # NamedTuple construction without the Python-level __new__ frame
#: An X12 R amount has at most 18 digits; with a sign and a point, 20 characters.
MAX_AMOUNT = 20


def amount(seg: list[str], pos: int, n: int, w: Warnings | None = None) -> Amount:
    """A required R-type amount at element ``pos``. With ``w``, spaces around it are read
    through with a warning (the digits are the money)."""
    text = seg[pos] if pos < len(seg) else ""
    if len(text) > MAX_AMOUNT:
        raise X12Error(
            f"{seg[0]}{pos:02d} is {len(text)} characters long, an amount has at most 18 digits",
            segment=n,
            position=pos,
        )
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
    if cents is None and w is not None and text.strip(" ") != text:
        cents = to_cents(text.strip(" "))
        if cents is not None:
            w.add(n, seg[0], pos, f"{seg[0]}{pos:02d} {text!r} has spaces around the amount")
            text = text.strip(" ")
    if cents is None:
        what = "is missing" if not text else f"is not a decimal amount: {text[:40]!r}"
        raise X12Error(f"{seg[0]}{pos:02d} {what}", segment=n, position=pos)
    return Amount(cents, text)


def opt_amount(seg: list[str], pos: int, n: int, w: Warnings | None = None) -> Amount | None:
    if pos >= len(seg) or not seg[pos]:
        return None
    return amount(seg, pos, n, w)


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


def opt_date(seg: list[str], pos: int, n: int, w: Warnings | None = None) -> dt.date | None:
    """An optional D8 date. With ``w``, one that is not a date is read as no date, with a
    warning: no 835 date decides money or which claim is paid."""
    text = seg[pos] if pos < len(seg) else ""
    if not text:
        return None
    if w is None:
        return d8_element(text, seg, pos, n)
    try:
        return d8(text)
    except ValueError:
        w.add(
            n, seg[0], pos, f"{seg[0]}{pos:02d} is not a CCYYMMDD date: {text[:40]!r}; read as none"
        )
        return None


def el(seg: list[str], pos: int) -> str:
    return seg[pos] if pos < len(seg) else ""


def need(seg: list[str], pos: int, n: int) -> str:
    if pos < len(seg) and seg[pos]:
        return seg[pos]
    raise X12Error(f"{seg[0]}{pos:02d} is missing", segment=n, position=pos)


#: Characters payers use between components; one of them, where ISA16 declares another.
_SEPARATORS = ":>^<|\\!}{"
#: SVC01 and SVC06 product/service id qualifiers (X221A1).
SVC_QUALIFIERS = frozenset({"AD", "ER", "HC", "HP", "IV", "N4", "NU", "WK"})
#: PLB03 and later adjustment reason codes (X221A1).
PLB_REASONS = frozenset(
    [
        "50",
        "51",
        "72",
        "90",
        "AH",
        "AM",
        "AP",
        "B2",
        "B3",
        "BD",
        "BN",
        "C5",
        "CR",
        "CS",
        "CT",
        "CV",
        "CW",
        "DM",
        "E3",
        "FB",
        "FC",
        "GO",
        "HM",
        "IP",
        "IR",
        "IS",
        "J1",
        "L3",
        "L6",
        "LE",
        "LS",
        "OA",
        "OB",
        "PI",
        "PL",
        "RA",
        "RE",
        "SL",
        "TL",
        "WO",
        "WU",
    ]
)


def components(
    seg: list[str], pos: int, n: int, comp: str, w: Warnings | None, heads: frozenset[str]
) -> list[str]:
    """Element ``pos`` split at the component separator ``comp``. With ``w``, an element
    that holds none but exactly one other separator character, whose first part is one
    of ``heads`` (a qualifier or reason code), is split there with a warning: its meaning
    is not in doubt."""
    text = seg[pos]
    if comp in text or w is None:
        return text.split(comp)
    others = [c for c in _SEPARATORS if c != comp and c in text]
    if len(others) == 1:
        parts = text.split(others[0])
        if parts[0] in heads:
            w.add(
                n,
                seg[0],
                pos,
                f"{seg[0]}{pos:02d} {text[:40]!r} separates its components with "
                f"{others[0]!r}, ISA16 declares {comp!r}",
            )
            return parts
    return [text]
