"""Contracts in memory, per tenant and payer: every posted line is compared with its
contract, and that must not cost a query a line. A batch of postings asks the tenant's
contract version once (a primary-key read); the payer's rates and fee schedules are read
again only when an import changed the version."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import asyncpg

from services.remittance import contract_store
from services.remittance.domain.contracts import Book


@dataclass(slots=True)
class ContractCache:
    default_threshold_cents: int = 100
    _books: dict[tuple[str, str], tuple[uuid.UUID, Book]] = field(default_factory=dict)
    loads: int = 0  # how many times a book was read from the database (tests and metrics)

    async def book(self, conn: asyncpg.Connection, tenant: str, payer_id: str) -> tuple[Book, int]:
        """The tenant's contract with the payer in force now, and the tenant's threshold.
        A tenant that never imported contracts has an empty book (nothing is checked)."""
        found = await contract_store.tenant_version(conn, tenant)
        if found is None:
            return Book(), self.default_threshold_cents
        version, threshold = found
        cached = self._books.get((tenant, payer_id))
        if cached is None or cached[0] != version:
            self.loads += 1
            cached = (version, await contract_store.load_book(conn, tenant, payer_id))
            self._books[(tenant, payer_id)] = cached
        return cached[1], self.default_threshold_cents if threshold is None else threshold


#: The service's cache (one process, one cache; ``app.wire`` sets its default threshold).
CONTRACTS = ContractCache()
