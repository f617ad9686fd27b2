"""The compact PTP index answers exactly as the rows it packed (issue 30, part 6)."""

from __future__ import annotations

import datetime as dt

import pytest

from services.coding.ncci import EditTables, PtpEdit, bundled_ptp
from services.coding.ptp_index import PtpIndex

pytestmark = pytest.mark.unit

D = dt.date


def test_the_edit_in_force_on_the_date_comes_back_whole() -> None:
    old = PtpEdit("99213", "96372", True, D(1996, 1, 1), D(2014, 1, 1), 0, "Mutually exclusive")
    new = PtpEdit("99213", "96372", False, D(2014, 1, 1), None, 1, "Standards of practice")
    never = PtpEdit("99214", "96372", False, D(2020, 1, 1), D(2020, 1, 1), 9, "")
    ix = PtpIndex([new, old, never])
    assert (ix.rows, len(ix)) == (3, 2)
    assert ix.on("99213", "96372", D(2013, 12, 31)) == old
    assert ix.on("99213", "96372", D(2014, 1, 1)) == new
    assert ix.on("99213", "96372", D(1995, 12, 31)) is None
    assert ix.on("99214", "96372", D(2020, 1, 1)) is None  # deleted the day it took effect
    assert ix.on("96372", "99213", D(2026, 1, 1)) is None  # pairs are ordered
    assert sorted(ix, key=lambda e: e.effective) == [old, new, never]


def test_the_bundled_subset_round_trips() -> None:
    edits = bundled_ptp()
    tables = EditTables.build(edits, [], version="t")
    assert sorted(tables.ptp, key=repr) == sorted(edits, key=repr)
    for e in edits:
        want = (
            next(
                x
                for x in edits
                if (x.column1, x.column2) == (e.column1, e.column2) and x.applies_on(e.effective)
            )
            if e.applies_on(e.effective)
            else None
        )
        assert tables.ptp_on(e.column1, e.column2, e.effective) == want


def test_a_date_outside_the_packed_range_is_refused() -> None:
    with pytest.raises(ValueError, match="date 1899-12-31 is outside 1900-2258"):
        PtpIndex([PtpEdit("99213", "96372", False, D(1899, 12, 31), None, 1, "")])
