"""The day's patient statements as a patient reads them: the PDF the statements service's
documents make, read back as text."""

from __future__ import annotations

import asyncio
import io
import json
import re
from typing import Any

import asyncpg
import pytest
from pypdf import PdfReader

from rcm import readmodel
from rcm.practice import BILLING_PROVIDER
from runtime.settings import Settings
from schemas.events import EncounterCreated
from services.statements import render

pytestmark = pytest.mark.e2e


async def _statements(s: Settings, claim_ids: list[str]) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(s.database_url)
    try:
        rows = await readmodel.statements(conn, claim_ids)
    finally:
        await conn.close()
    return [{**r, **json.loads(r["body"])} for r in rows]


def test_every_statement_shows_the_practice_a_word_for_each_line_and_the_whole_stub(
    settled_day: tuple[list[EncounterCreated], list[str]], live_stack: Settings
) -> None:
    _, claim_ids = settled_day
    docs = asyncio.run(_statements(live_stack, claim_ids))
    assert docs, "the day billed no patient"
    for doc in docs:
        pages = PdfReader(io.BytesIO(render.to_pdf(doc))).pages
        text = "\n".join(p.extract_text() for p in pages)
        assert text.startswith(BILLING_PROVIDER.name), doc["statement_id"]
        assert "Example Family Practice" not in text
        for claim in doc["claims"]:
            for line in claim["lines"]:
                assert line["description"], f"{line['code']} has no words"
                assert line["description"].split()[0] in text
        flat = re.sub(r"\s+", "", text)
        stub = flat[flat.rindex("Amountenclosed") :]
        assert doc["statement_id"] in stub
        assert doc["guarantor"]["account"] in stub
