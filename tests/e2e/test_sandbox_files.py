"""Every file exchanged with the sandbox's clearinghouse and payers for the settled day
(each 837 sent, each 835, 999 and 277CA that came back through the SFTP mailbox) passes
pyx12, for every payer the day billed."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import asyncpg
import pytest

from rcm import readmodel
from rcm.ackfiles import acknowledgement_files
from runtime.settings import Settings
from runtime.x12 import segments
from schemas.events import EncounterCreated
from tests.e2e.conftest import TENANT
from tests.pyx12check import problems

pytestmark = pytest.mark.e2e


async def _remits(s: Settings, claim_ids: list[str]) -> list[tuple[str, str]]:
    conn = await asyncpg.connect(s.database_url)
    try:
        return await readmodel.remits(conn, claim_ids)
    finally:
        await conn.close()


def _failures(files: list[tuple[str, str]], tmp_path: Path) -> list[str]:
    return [f"{name}: {p}" for name, text in files for p in problems(tmp_path / name, text)]


def test_every_835_of_the_day_passes_pyx12_for_every_payer(
    settled_day: tuple[list[EncounterCreated], list[str]], live_stack: Settings, tmp_path: Path
) -> None:
    day, claim_ids = settled_day
    remits = asyncio.run(_remits(live_stack, claim_ids))
    assert remits, "no payer paid the day"
    payers = {next(s[2] for s in segments(t)[1] if s[:2] == ["REF", "2U"]) for _, t in remits}
    billed = {c.payer_id for e in day for c in e.coverages}
    assert len(payers) >= 4, payers  # PPO, HDHP, Medicare and a secondary at the least
    assert payers <= billed
    assert _failures(remits, tmp_path) == []


def test_every_999_and_277ca_of_the_day_passes_pyx12(
    settled_day: tuple[list[EncounterCreated], list[str]], live_stack: Settings, tmp_path: Path
) -> None:
    _, claim_ids = settled_day
    acks = asyncio.run(acknowledgement_files(live_stack, claim_ids))
    kinds = {name.rsplit(".", 1)[1] for name, _ in acks}
    assert kinds == {"999", "277ca"}
    assert _failures(acks, tmp_path) == []


async def _interchanges_and_transport(
    s: Settings, claim_ids: list[str]
) -> tuple[list[tuple[str, str]], dict[str, int], dict[str, int]]:
    conn = await asyncpg.connect(s.database_url)
    try:
        sent = await readmodel.interchanges(conn, claim_ids)
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        # the day's tenant uploads through the stack's account, whose tenant is the
        # install's: the files that came back are the account's receipts
        ours = await readmodel.transport(conn, TENANT, [icn for icn, _ in sent], since)
        account = await readmodel.transport(conn, s.tenant, [], since)
        return sent, ours, account
    finally:
        await conn.close()


def test_every_837_went_through_the_mailbox_and_passes_pyx12_and_answers_came_back(
    settled_day: tuple[list[EncounterCreated], list[str]], live_stack: Settings, tmp_path: Path
) -> None:
    _, claim_ids = settled_day
    sent, ours, account = asyncio.run(_interchanges_and_transport(live_stack, claim_ids))
    assert sent
    assert ours["sftp_uploaded"] == len(sent)  # every 837 of the day uploaded
    assert account["sftp_downloaded"] >= 2 * len(sent)  # a 999 and a 277CA each, and 835s
    assert _failures([(f"{icn}.837", text) for icn, text in sent], tmp_path) == []
