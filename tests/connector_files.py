"""X12 files for the connector's tests: a 999 and a 277CA built here (their bodies are
the clearinghouse's; the connector checks only the envelope), and a shipped 835."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from runtime.x12 import Envelope, segment, transaction, wrap

FIXTURES = Path(__file__).parent / "fixtures" / "x12"
AT = dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC)


def ack_999(icn: int, accepted: str = "A") -> bytes:
    env = Envelope("ZZ", "CLEARHOUSE", "ZZ", "RCMPIPELINE", "FA", "005010X231A1", icn, icn, at=AT)
    body = [segment("AK1", "HC", "17", "005010X222A1"), segment("AK9", accepted, "1", "1", "1")]
    return wrap(env, [transaction("999", "0001", body, "005010X231A1")]).encode()


def ack_277ca(icn: int) -> bytes:
    env = Envelope("ZZ", "CLEARHOUSE", "ZZ", "RCMPIPELINE", "HN", "005010X214", icn, icn, at=AT)
    body = [segment("BHT", "0085", "08", f"R{icn}", "20261207", "0930", "TH")]
    return wrap(env, [transaction("277", "0001", body, "005010X214")]).encode()


def status_277(icn: int) -> bytes:
    """A payer's claim status (277, X212): a file claims does not read from the mailbox."""
    env = Envelope("ZZ", "CLEARHOUSE", "ZZ", "RCMPIPELINE", "HN", "005010X212", icn, icn, at=AT)
    body = [segment("BHT", "0010", "08", f"S{icn}", "20261207", "0930", "DG")]
    return wrap(env, [transaction("277", "0001", body, "005010X212")]).encode()


def claim_837(icn: int) -> bytes:
    env = Envelope("ZZ", "RCMPIPELINE", "ZZ", "CLEARHOUSE", "HC", "005010X222A1", icn, icn, at=AT)
    body = [segment("BHT", "0019", "00", f"B{icn}", "20261207", "0930", "CH")]
    return wrap(env, [transaction("837", "0001", body, "005010X222A1")]).encode()


def remit_835() -> bytes:
    return (FIXTURES / "X221-multiple-claims-single-check.edi").read_bytes()


@asynccontextmanager
async def outbox_left_clean(pool: asyncpg.Pool) -> AsyncIterator[None]:
    """What a test announces through the connector's real outbox goes nowhere: the rows
    it added are dropped at its end, so no fleet started later relays a test tenant's
    files to the rooms that read them (claims dead-letters a 999 for an interchange it
    never sent)."""
    mark = await pool.fetchval("SELECT coalesce(max(id), 0) FROM outbox")
    try:
        yield
    finally:
        await pool.execute("DELETE FROM outbox WHERE id > $1", mark)
