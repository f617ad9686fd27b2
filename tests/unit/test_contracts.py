"""Contracts per tenant and payer: the files a tenant imports (every bad row named), the
rate a line is held to (most specific in force on its date of service; a share of a fee
schedule), and the demo's contracts against the simulated payers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from rcm.cli_contracts import DEMO_CONTRACTS, DEMO_FEES
from services.remittance.contract_file import (
    ContractFileError,
    parse_contracts,
    parse_fee_schedule,
)
from services.remittance.domain.contracts import Book, Rate, cents
from services.simulator.payers import PAYERS

pytestmark = pytest.mark.unit

HEADER = (
    "payer_id,procedure_code,modifier,place_of_service,effective_from,effective_to,"
    "allowed_cents,fee_schedule,percent\n"
)


def test_a_contracts_file_reads_fixed_rates_and_shares_of_a_fee_schedule() -> None:
    rows = parse_contracts(
        HEADER
        + "PPO01,99213,,,2026-01-01,,11960,,\n"
        + "PPO01,*,,,2026-01-01,2026-12-31,,MPFS,110\n"
        + "MCR01,20610,25,11,2025-07-01,,8000,,\n"
    )
    assert [(r.row, r.payer_id, r.rate) for r in rows] == [
        (2, "PPO01", Rate("99213", "", "", dt.date(2026, 1, 1), None, 11960, None, None)),
        (3, "PPO01", Rate("", "", "", dt.date(2026, 1, 1), dt.date(2026, 12, 31), None, "MPFS",
                          Decimal(110))),
        (4, "MCR01", Rate("20610", "25", "11", dt.date(2025, 7, 1), None, 8000, None, None)),
    ]  # fmt: skip


def test_every_bad_row_of_a_contracts_file_is_named_with_its_column() -> None:
    with pytest.raises(ContractFileError) as caught:
        parse_contracts(
            HEADER
            + "PPO01,99213,,,2026-01-01,,11960,,\n"  # fine
            + "PPO01,99214,,,2026-13-01,,16900,,\n"  # no 13th month
            + "PPO01,99215,,,2026-01-01,,12.50,,\n"  # dollars, not cents
            + "PPO01,*,,,2026-01-01,,5000,,\n"  # a fixed amount for every code
            + "P,99213,,,2026-01-01,,100,,\n"  # payer id too short
            + "PPO01,99213,,,2026-01-01,,11000,,\n"  # the same key as row 2
            + "PPO01,99396,,,2026-06-01,2026-01-01,,MPFS,120\n"  # ends before it starts
            + "PPO01,99397,,,2026-01-01,,,MPFS,-5\n"  # a negative percentage
            + "PPO01,9921,,,2026-01-01,,100,,\n"  # a 4-character code
        )
    assert caught.value.problems == [
        "row 3, column effective_from: must be a date YYYY-MM-DD (got '2026-13-01')",
        "row 4, column allowed_cents: must be whole cents, 0 to 1000000000 (got '12.50')",
        "row 5, column procedure_code: an allowed amount needs a code ('*' only with a fee"
        " schedule)",
        "row 6, column payer_id: must be 2-80 letters, digits, '.', '_' or '-' (got 'P')",
        "row 8, column effective_to: 2026-01-01 is before effective_from 2026-06-01",
        "row 9, column percent: must be a percentage above 0, at most 1000 (got '-5')",
        "row 10, column procedure_code: must be a 5-character code (got '9921')",
        "row 7: the same payer, code, modifier, place of service and start as row 2",
    ]


def test_a_file_without_the_columns_or_rows_is_refused() -> None:
    with pytest.raises(ContractFileError, match="row 1: header lacks column effective_from"):
        parse_contracts("payer_id,procedure_code,allowed_cents\nPPO01,99213,100\n")
    with pytest.raises(ContractFileError, match="no contract rows"):
        parse_contracts(HEADER)
    with pytest.raises(ContractFileError, match="row 3, column allowed_cents"):
        parse_fee_schedule("procedure_code,modifier,allowed_cents\n99213,,9200\n99214,,x\n")


def _book() -> Book:
    jan25, jan26 = dt.date(2025, 1, 1), dt.date(2026, 1, 1)
    return Book.of(
        [
            Rate("", "", "", jan25, dt.date(2025, 12, 31), None, "MPFS", Decimal(100)),
            Rate("", "", "", jan26, None, None, "MPFS", Decimal("110")),
            Rate("99213", "", "", jan25, None, 9000, None, None),
            Rate("99213", "", "", jan26, None, 9500, None, None),
            Rate("99213", "25", "", jan26, None, 9900, None, None),
            Rate("99213", "", "22", jan26, None, 7000, None, None),
        ],
        {"MPFS": {("99214", ""): 13000, ("99214", "26"): 5000}},
    )


def test_the_rate_in_force_on_the_date_of_service_and_most_specific_applies() -> None:
    book = _book()

    def per_unit(code: str, mods: tuple[str, ...], pos: str | None, day: dt.date) -> object:
        found = book.expected(code, mods, pos, day)
        return None if found is None else found.per_unit_cents

    # a code's own rate, by date of service: last year's, then this year's
    assert per_unit("99213", (), "11", dt.date(2025, 6, 30)) == 9000
    assert per_unit("99213", (), "11", dt.date(2026, 1, 1)) == 9500
    # a modifier, then a place of service, before the code alone
    assert per_unit("99213", ("25",), "11", dt.date(2026, 3, 1)) == 9900
    assert per_unit("99213", (), "22", dt.date(2026, 3, 1)) == 7000
    # every other code: a share of the fee schedule in force, its modifier's price first
    assert per_unit("99214", (), "11", dt.date(2025, 6, 1)) == 13000
    assert per_unit("99214", (), "11", dt.date(2026, 6, 1)) == 14300
    assert per_unit("99214", ("26",), "11", dt.date(2026, 6, 1)) == 5500
    # a code the schedule does not price, or a date before any contract: not checked
    assert per_unit("99999", (), "11", dt.date(2026, 6, 1)) is None
    assert per_unit("99213", (), "11", dt.date(2024, 12, 31)) is None
    assert book.expected("99214", (), "11", dt.date(2026, 6, 1)).rate.basis == (  # type: ignore[union-attr]
        "110% of MPFS from 2026-01-01"
    )


def test_the_demo_contracts_hold_every_simulated_payer_to_its_fees_but_the_ppos_stale_ones() -> (
    None
):
    fees = {(c, m): f for c, m, f in parse_fee_schedule(DEMO_FEES.read_text())}
    by_payer: dict[str, list[Rate]] = {}
    for row in parse_contracts(DEMO_CONTRACTS.read_text()):
        by_payer.setdefault(row.payer_id, []).append(row.rate)
    day = dt.date(2026, 4, 6)
    # the Medigap plan pays only what Medicare left: it has no contract of its own
    assert set(by_payer) == set(PAYERS) - {"MGP01"}
    underpaid = set()
    for pid, rates in by_payer.items():
        book, plan = Book.of(rates, {"MPFS": fees}), PAYERS[pid]
        for code, fee in plan.fees.items():
            found = book.expected(code, (), "11", day)
            assert found is not None
            expected, paid_as = (
                cents(found.per_unit_cents, Decimal(1)),
                plan.stale_fees.get(code, fee),
            )
            assert expected >= paid_as, (pid, code)
            if expected > paid_as:
                underpaid.add((pid, code, expected - paid_as))
    # the PPO prices its established office visits from last year's 125 % (not 130 %)
    assert underpaid == {("PPO01", "99213", 460), ("PPO01", "99214", 650),
                         ("PPO01", "99215", 915)}  # fmt: skip
