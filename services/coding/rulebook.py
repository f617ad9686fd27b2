"""The payer rules one coding service scrubs with: every tenant's
:class:`~services.coding.payer_rules.RuleBook`, loaded from PostgreSQL at start and
again by the reload timer when a ``rcm code load-payer-rules`` ran (its stamp changed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import asyncpg

from services.coding import repository_rules
from services.coding.payer_rules import EMPTY_BOOK, RuleBook

log = logging.getLogger("rcm.coding")


@dataclass
class LoadedRules:
    books: dict[str, RuleBook] = field(default_factory=dict)
    stamp: str = ""

    def book(self, tenant: str) -> RuleBook:
        return self.books.get(tenant, EMPTY_BOOK)


async def load_rules(conn: asyncpg.Connection, loaded: LoadedRules) -> None:
    """Read every tenant's rules and make them current."""
    loaded.stamp = await repository_rules.rules_stamp(conn)
    loaded.books = await repository_rules.rule_books(conn)
    log.info(
        "payer rules loaded: %d tenants, %d rules",
        len(loaded.books),
        sum(len(b) for b in loaded.books.values()),
    )


async def reload_if_changed(conn: asyncpg.Connection, loaded: LoadedRules) -> None:
    if await repository_rules.rules_stamp(conn) != loaded.stamp:
        await load_rules(conn, loaded)
