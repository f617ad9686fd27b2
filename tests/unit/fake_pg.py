"""A small stand-in for an asyncpg connection that knows the exactly-once core's
statements (runtime.applier, runtime.outbox): the dedupe table, the outbox and the dead
letters, with transactions and savepoints that roll back what they wrote."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Tables:
    processed: set[tuple[str, str]] = field(default_factory=set)
    #: (topic, key, value, headers JSON, the outermost transaction that wrote it)
    outbox: list[tuple[str, bytes | None, bytes, str, int]] = field(default_factory=list)
    dead_letters: list[tuple[str, int, int, str, str]] = field(default_factory=list)
    #: dead_letter_details: (dead letter id, error type, sqlstate, full text)
    details: list[tuple[int, str, str | None, str]] = field(default_factory=list)


class FakeConnection:
    """Transactions nest as savepoints; leaving one with an exception restores the
    tables as they were when it began."""

    def __init__(self) -> None:
        self.tables = Tables()
        self.depth = 0
        self.transactions = 0  # outermost transactions begun
        self.commits = 0
        self.statements: list[str] = []

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        saved = copy.deepcopy(self.tables)
        if self.depth == 0:
            self.transactions += 1
        self.depth += 1
        try:
            yield
        except BaseException:
            self.tables = saved
            raise
        finally:
            self.depth -= 1
        if self.depth == 0:
            self.commits += 1

    def transaction(self) -> Any:
        return self._transaction()

    def _first(self, message_id: str, topic: str) -> bool:
        if (message_id, topic) in self.tables.processed:
            return False
        self.tables.processed.add((message_id, topic))
        return True

    async def fetch(self, sql: str, *args: Any) -> list[tuple[str]]:
        self.statements.append(sql)
        assert sql.startswith("INSERT INTO processed_messages"), sql
        ids, topic = args
        return [(i,) for i in dict.fromkeys(ids) if self._first(i, topic)]

    async def fetchval(self, sql: str, *args: Any) -> Any:
        self.statements.append(sql)
        if sql.startswith("INSERT INTO dead_letters") and sql.endswith("RETURNING id"):
            assert self.depth > 0, "every write of the core runs in a transaction"
            self.tables.dead_letters.append(args)
            return len(self.tables.dead_letters)
        assert sql.startswith("INSERT INTO processed_messages"), sql
        return True if self._first(*args) else None

    async def execute(self, sql: str, *args: Any) -> str:
        self.statements.append(sql)
        assert self.depth > 0, "every write of the core runs in a transaction"
        if sql.startswith("INSERT INTO outbox") and "unnest" in sql:
            for row in zip(*args, strict=True):
                self.tables.outbox.append((*row, self.transactions))
        elif sql.startswith("INSERT INTO outbox"):
            self.tables.outbox.append((*args, self.transactions))
        elif sql.startswith("INSERT INTO dead_letter_details"):
            self.tables.details.append(args)
        else:
            raise AssertionError(f"unexpected statement {sql}")
        return "INSERT 0 1"

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        for row in rows:
            await self.execute(sql, *row)
