"""The envelope around 835 transactions: ISA/IEA interchanges, GS/GE functional groups,
ST/SE transactions, each closing segment checked against its count and control number.

A closing segment whose count or control number is wrong is read through with a
warning: the segments between the opening and closing segment are what the file holds,
whatever the count says. A missing one (ST before SE, IEA before GE) is refused: then
where a transaction ends is not known. An interchange repeated in one file (the same
sender and ISA13) is refused: read twice, its money would post twice."""

from __future__ import annotations

from runtime.x12 import X12Error
from services.remittance.x12_835.elements import el, need
from services.remittance.x12_835.state import (
    ENVELOPE,
    HEADER,
    Reader,
    Txn,
    close_claim,
    open_payment,
)


def isa(r: Reader, seg: list[str], n: int) -> None:
    if r.isa is not None or len(seg) != 17:
        why = (
            "ISA before the previous IEA"
            if r.isa is not None
            else (f"ISA has {len(seg)} elements, 17 expected")
        )
        raise X12Error(why, segment=n, position=0)
    if len(seg[16]) != 1 or seg[16] != r.comp:
        raise X12Error(
            f"ISA16 {seg[16]!r} differs from the first interchange's "
            f"component separator {r.comp!r}",
            segment=n,
            position=16,
        )
    key = (seg[6].strip(), seg[13])
    if key in r.interchanges:
        raise X12Error(
            f"interchange {seg[13][:9]} from sender {key[0][:15]!r} repeats the one at "
            f"segment {r.interchanges[key]}: the same interchange twice in one file",
            segment=n,
            position=13,
        )
    r.interchanges[key] = n
    r.isa, r.groups = seg, 0


def gs(r: Reader, seg: list[str], n: int) -> None:
    if r.isa is None or r.gs is not None:
        raise X12Error(
            "GS outside an interchange" if r.isa is None else "GS before the previous GE",
            segment=n,
            position=0,
        )
    r.gs, r.txns = seg, 0
    r.groups += 1


def st(r: Reader, seg: list[str], n: int) -> None:
    if r.gs is None:
        raise X12Error("ST outside a functional group (no GS before it)", segment=n, position=0)
    if r.txn is not None:
        raise X12Error(f"ST before SE of transaction {r.txn.control}", segment=n, position=0)
    if el(seg, 1) != "835":
        raise X12Error(f"ST01 {el(seg, 1)[:10]!r} is not an 835", segment=n, position=1)
    r.txn = Txn(need(seg, 2, n), len(r.payments), n)
    r.txns += 1
    r.enter(HEADER)


def se(r: Reader, seg: list[str], n: int) -> None:
    """Ends the transaction: SE01 counts its segments, SE02 repeats ST02."""
    if r.payment is None:
        open_payment(r, n, "SE")
    close_claim(r)
    txn = r.txn
    assert txn is not None
    count, w = el(seg, 1), r.warnings
    if not count.isdigit() or int(count) != n - txn.n + 1:
        w.add(
            n,
            "SE",
            1,
            f"SE01 says {count[:10]!r} segments, transaction {txn.control[:10]} has "
            f"{n - txn.n + 1}",
        )
    if el(seg, 2) != txn.control:
        w.add(n, "SE", 2, f"SE02 {el(seg, 2)[:10]!r} does not match ST02 {txn.control[:10]!r}")
    r.txn = None
    r.payment = None
    r.enter(ENVELOPE)


def ge(r: Reader, seg: list[str], n: int) -> None:
    if r.gs is None:
        raise X12Error("GE without GS", segment=n, position=0)
    w = r.warnings
    if el(seg, 1) != str(r.txns):
        w.add(n, "GE", 1, f"GE01 says {el(seg, 1)[:10]!r} transactions, the group has {r.txns}")
    if el(seg, 2) != el(r.gs, 6):
        w.add(n, "GE", 2, f"GE02 {el(seg, 2)[:10]!r} does not match GS06 {el(r.gs, 6)[:10]!r}")
    r.gs = None


def iea(r: Reader, seg: list[str], n: int) -> None:
    if r.isa is None or r.gs is not None:
        raise X12Error(
            "IEA without ISA" if r.isa is None else "IEA before GE", segment=n, position=0
        )
    w = r.warnings
    if el(seg, 1) != str(r.groups):
        w.add(n, "IEA", 1, f"IEA01 says {el(seg, 1)[:10]!r} groups, the interchange has {r.groups}")
    if el(seg, 2) != r.isa[13]:
        w.add(n, "IEA", 2, f"IEA02 {el(seg, 2)[:10]!r} does not match ISA13 {r.isa[13][:10]!r}")
    r.isa = None


def outside(r: Reader, seg: list[str], n: int) -> None:
    """Any other segment between transactions."""
    where = "a transaction (no ST before it)" if r.gs is not None else "an interchange"
    raise X12Error(f"{seg[0][:10]} outside {where}", segment=n, position=0)


def inside_transaction(r: Reader, seg: list[str], n: int) -> None:
    """ISA, IEA, GS or GE before the transaction's SE."""
    assert r.txn is not None
    raise X12Error(
        f"{seg[0]} inside transaction {r.txn.control} (no SE before it)", segment=n, position=0
    )
