"""Statement PDFs off the busy path, on the real PostgreSQL: the timer renders nothing
while the instance is applying batches, renders them all once it is idle, renders a
statement that has waited too long even while busy, and a print batch uses the stored PDF
(rendering only one that has none, and keeping it), so each statement is rendered once.
The rendering runs in a worker process at the lowest CPU priority, and gives the same
document as rendering in the service's own process."""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from runtime.service import Service
from runtime.settings import Settings
from services.statements import app, delivery, pdfs, render
from services.statements.config import StatementSettings
from tests.integration.statements_world import Feed, decision, visit
from tests.throwaway import throwaway_service

pytestmark = pytest.mark.integration


@pytest.fixture
def cfg(tmp_path: Path) -> StatementSettings:
    return StatementSettings(
        hold_for_secondary=False,
        print_dir=tmp_path / "print",
        pdf_idle_s=2.0,
        pdf_max_wait_s=300.0,
    )


@pytest.fixture
async def svc(live_stack: Settings, cfg: StatementSettings) -> AsyncIterator[Service]:
    wire = partial(app.register, cfg=cfg)
    async with throwaway_service("statements", app.MIGRATIONS, wire, live_stack) as svc:
        yield svc


def later(seconds: float) -> Callable[[], float]:
    """The monotonic clock ``seconds`` from now: no sleeping in the test."""
    return lambda: time.monotonic() + seconds


async def bill(f: Feed, n: int, guarantor: str) -> str:
    """A visit whose payer leaves the guarantor $30.00: one statement, two batches."""
    enc, cid = visit(n, guarantor)
    await f.send(enc, decision(cid, 12000, 5000, 3000))
    return str(await f.val("SELECT statement_id FROM statements WHERE $1 = ANY(claim_ids)", cid))


async def stored(f: Feed) -> dict[str, bytes]:
    rows = await f.fetch("SELECT statement_id, pdf FROM statement_pdf_v1")
    return {r["statement_id"]: bytes(r["pdf"]) for r in rows}


def amount_due(pdf: bytes) -> str:
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    found = re.search(r"AMOUNT DUE\s+(\$[\d.,]+)", text)
    assert found, text[:300]
    return found.group(1)


async def test_a_burst_gets_no_pdfs_until_the_instance_is_idle(
    svc: Service, cfg: StatementSettings
) -> None:
    f = Feed(svc)
    issued = []
    for n in range(3):  # a run of consumed batches, the timer running between them
        issued.append(await bill(f, n, f"G-BURST-{n}"))
        assert await pdfs.render_missing(svc, cfg=cfg) == 0
    assert await pdfs.render_missing(svc, cfg=cfg, clock=later(1.0)) == 0  # still busy
    assert await stored(f) == {}

    assert await pdfs.render_missing(svc, cfg=cfg, clock=later(2.5)) == 3  # idle now
    kept = await stored(f)
    assert sorted(kept) == sorted(issued)
    assert {amount_due(p) for p in kept.values()} == {"$30.00"}
    assert await pdfs.render_missing(svc, cfg=cfg, clock=later(2.5)) == 0  # each once


async def test_a_statement_waiting_past_the_max_wait_gets_its_pdf_while_busy(
    svc: Service, cfg: StatementSettings
) -> None:
    f = Feed(svc)
    old = await bill(f, 1, "G-WAITED")
    new = await bill(f, 2, "G-FRESH")
    await f.val(
        "UPDATE statements SET created_at = now() - interval '301 seconds' WHERE statement_id = $1",
        old,
    )
    assert svc.idle_for() < cfg.pdf_idle_s  # a batch was applied a moment ago
    assert await pdfs.render_missing(svc, cfg=cfg) == 1
    assert list(await stored(f)) == [old]
    assert await pdfs.render_missing(svc, cfg=cfg) == 0  # the fresh one waits for idle
    assert await pdfs.render_missing(svc, cfg=cfg, clock=later(3.0)) == 1
    assert sorted(await stored(f)) == sorted([old, new])


async def test_a_print_batch_uses_the_stored_pdf_and_renders_each_statement_once(
    svc: Service, cfg: StatementSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg.pdf_background = False  # rendered in this process, where the test counts them
    renders: list[str] = []
    real = render.to_pdf

    def counted(doc: Any) -> bytes:
        renders.append(str(doc["statement_id"]))
        return real(doc)

    monkeypatch.setattr(render, "to_pdf", counted)
    f = Feed(svc)
    early = await bill(f, 1, "G-PRINT-1")
    assert await pdfs.render_missing(svc, cfg=cfg, clock=later(3.0)) == 1
    late = await bill(f, 2, "G-PRINT-2")  # issued after the timer ran: no PDF yet

    assert await delivery.deliver(svc, cfg=cfg) == 2
    assert cfg.print_dir is not None
    [batch] = list((cfg.print_dir / "it-clinic").iterdir())
    kept = await stored(f)
    assert sorted(kept) == sorted([early, late])  # the one rendered for print is kept
    for sid in (early, late):
        assert (batch / f"{sid}.pdf").read_bytes() == kept[sid]
    assert await pdfs.render_missing(svc, cfg=cfg, clock=later(3.0)) == 0
    assert sorted(renders) == sorted([early, late])  # once each


async def test_pdfs_are_rendered_by_a_lowest_priority_worker_with_the_same_pages(
    svc: Service, cfg: StatementSettings
) -> None:
    f = Feed(svc)
    sid = await bill(f, 7, "G-NICE-1")
    assert cfg.pdf_background
    assert await pdfs.render_missing(svc, cfg=cfg, clock=later(3.0)) == 1
    kept = (await stored(f))[sid]
    body = await f.val("SELECT body FROM statements WHERE statement_id = $1", sid)
    inline = pdfs.render_all([body])[0]
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(kept)).pages]
    assert pages == [p.extract_text() for p in PdfReader(io.BytesIO(inline)).pages]
    assert amount_due(kept) == "$30.00"
    worker = pdfs._worker()
    assert worker.submit(os.getpid).result() != os.getpid()  # another process
    assert worker.submit(os.nice, 0).result() == 19  # the kernel's lowest priority
