"""The statements service's SQL on statements: what billing an account reads, and the
statements it writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import asyncpg
import orjson

from services.statements import domain

# --- billing ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """What billing an account needs, read in one statement under the account's lock:
    its open claims (insurance done, a balance left; oldest first) with their visit and
    ledger rows, its money on no claim, the next statement number and the guarantor."""

    open: list[domain.ClaimOnStatement]
    balances: dict[str, int]
    unapplied: list[tuple[str, int]]
    number: int
    account: Mapping[str, Any] | None

    def owed_cents(self) -> int:
        return sum(self.balances.values()) + sum(cents for _, cents in self.unapplied)

    def credit_cents(self) -> int:
        return -sum(cents for _, cents in self.unapplied)

    @classmethod
    async def read(cls, conn: asyncpg.Connection, tenant: str, guarantor: str) -> AccountSnapshot:
        [snap] = await cls.read_many(conn, [(tenant, guarantor)])
        return snap

    @classmethod
    async def read_many(
        cls, conn: asyncpg.Connection, accounts: Sequence[tuple[str, str]]
    ) -> list[AccountSnapshot]:
        """The snapshots of these (tenant, guarantor) accounts, in order, in one statement."""
        rows = await conn.fetch(_SNAPSHOTS_SQL, [t for t, _ in accounts], [g for _, g in accounts])
        return [cls._of(row) for row in rows]

    @classmethod
    def _of(cls, row: Mapping[str, Any]) -> AccountSnapshot:
        postings: dict[str, list[tuple[str, int]]] = {}
        for claim_id, kind, cents in orjson.loads(row["postings"]):
            postings.setdefault(claim_id, []).append((kind, int(cents)))
        open_claims = orjson.loads(row["open"])
        return cls(
            open=[
                domain.ClaimOnStatement(
                    claim_id=c["claim_id"],
                    patient_name=c["patient_name"],
                    date_of_service=dt.date.fromisoformat(c["date_of_service"]),
                    lines=c["lines"],
                    postings=postings.get(c["claim_id"], []),
                    first_billed_on=(
                        dt.date.fromisoformat(c["first_billed_on"])
                        if c["first_billed_on"]
                        else None
                    ),
                    self_pay=c["self_pay"],
                    line_detail=_line_detail(c["lines"], c["line_detail"]),
                    billing_provider=c.get("billing_provider"),
                )
                for c in open_claims
            ],
            balances={c["claim_id"]: int(c["balance"]) for c in open_claims},
            unapplied=[(kind, int(cents)) for kind, cents in orjson.loads(row["unapplied"])],
            number=int(row["number"]),
            account=orjson.loads(row["account"]) if row["account"] else None,
        )


_SNAPSHOTS_SQL = (
    "SELECT s.* FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS q(t, g, n)"
    " CROSS JOIN LATERAL ("
    "WITH b AS (SELECT claim_id, sum(amount_cents)::bigint AS balance FROM ledger"
    "   WHERE tenant = q.t AND guarantor_id = q.g AND claim_id IS NOT NULL GROUP BY claim_id),"
    " oc AS (SELECT c.claim_id, c.date_of_service, c.first_billed_on, b.balance,"
    "   c.patient_name, c.lines, c.self_pay, c.line_detail, c.billing_provider"
    "   FROM claim_charges c JOIN b USING (claim_id)"
    "   WHERE c.tenant = q.t AND c.guarantor_id = q.g AND c.insurance_final AND b.balance > 0"
    "   AND c.placed_on IS NULL)"
    " SELECT (SELECT coalesce(json_agg(oc ORDER BY oc.first_billed_on NULLS LAST,"
    "   oc.date_of_service, oc.claim_id), '[]') FROM oc) AS open,"
    " (SELECT coalesce(json_agg(json_build_array(l.claim_id, l.kind, l.amount_cents)"
    "   ORDER BY l.id), '[]') FROM ledger l WHERE l.claim_id IN (SELECT claim_id FROM oc))"
    "   AS postings,"
    " (SELECT coalesce(json_agg(json_build_array(l.kind, l.amount_cents) ORDER BY l.id), '[]')"
    "   FROM ledger l WHERE l.tenant = q.t AND l.guarantor_id = q.g AND l.claim_id IS NULL)"
    "   AS unapplied,"
    " (SELECT count(*)::int + 1 FROM statements WHERE tenant = q.t AND guarantor_id = q.g)"
    "   AS number,"
    " (SELECT row_to_json(a) FROM (SELECT first_name, last_name, address FROM accounts"
    "   WHERE tenant = q.t AND guarantor_id = q.g) a) AS account"
    ") s ORDER BY q.n"
)


def _line_detail(lines: list[dict[str, Any]], raw: dict[str, Any]) -> dict[int, dict[str, int]]:
    """The payer's per-line figures, for the lines the visit still has as posted."""
    return {
        int(n): d
        for n, d in raw.items()
        if int(n) <= len(lines) and lines[int(n) - 1]["code"] == d.get("code")
    }


async def set_next_statement_dates(
    conn: asyncpg.Connection, dates: Sequence[tuple[str, str, dt.date | None]]
) -> None:
    """(tenant, guarantor, next statement date or None) each."""
    await conn.executemany(
        "UPDATE accounts SET next_statement_on = $3 WHERE tenant = $1 AND guarantor_id = $2",
        dates,
    )


class StatementRow(NamedTuple):
    """One statement to write (:data:`_ISSUE_SQL`), as statement parameters in order:
    with it, its claims are marked billed and the account gets its next cycle date (and
    its collections flag)."""

    statement_id: str
    tenant: str
    guarantor_id: str
    claim_ids: list[str]
    balance_cents: int
    aging_bucket: str
    statement_date: dt.date
    due_date: dt.date
    body: str
    reason: str
    next_statement_on: dt.date | None
    collections: bool


_ISSUE_SQL = (
    "WITH b AS (UPDATE claim_charges SET first_billed_on = $7 WHERE claim_id = ANY($4)"
    "   AND first_billed_on IS NULL),"
    " a AS (UPDATE accounts SET next_statement_on = coalesce($11, next_statement_on),"
    "   collections_flagged_on = CASE WHEN $12 THEN coalesce(collections_flagged_on, $7)"
    "   ELSE collections_flagged_on END WHERE tenant = $2 AND guarantor_id = $3"
    "   AND ($11::date IS NOT NULL OR $12)),"
    " s AS (INSERT INTO statements(statement_id, tenant, guarantor_id, claim_ids,"
    " balance_cents, aging_bucket, statement_date, due_date, body, reason)"
    " VALUES ($1,$2,$3,$4::text[],$5,$6,$7::date,$8,$9::json,$10) RETURNING statement_id)"
    # queued for delivery with it (services/statements/delivery.py)
    " INSERT INTO deliveries(statement_id, tenant) SELECT statement_id, $2 FROM s"
)


async def insert_statements(conn: asyncpg.Connection, rows: Sequence[StatementRow]) -> None:
    await conn.executemany(_ISSUE_SQL, rows)
