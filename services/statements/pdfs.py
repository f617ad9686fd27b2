"""Each statement's PDF kept beside it (``statement_pdfs``, view ``statement_pdf_v1``), so
the billing office downloads the document the patient got (the gateway's account page)
and rendering stays with the room that owns statements.

A timer renders the statements issued without one, a batch a run
(``RCM_STATEMENTS_PDF_BATCH``, 0: off), off the busy path: rendering is CPU the claim
pipeline needs during a burst, so the timer renders only once this instance has applied
no batch for ``RCM_STATEMENTS_PDF_IDLE_S`` (newest first), or, while it stays busy, the
statements that have waited ``RCM_STATEMENTS_PDF_MAX_WAIT_S`` (oldest first). Every
statement gets its PDF seconds after a burst, and within minutes during one. A print
batch renders the PDF of a statement that has none yet and keeps it (delivery.py).

The rendering itself runs in a worker process at the lowest CPU priority (nice 19,
``RCM_STATEMENTS_PDF_BACKGROUND``): on a machine busy with claims the kernel gives it
what the pipeline leaves, and the service's event loop is never blocked by fpdf.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from runtime.service import Service
from services.statements import render
from services.statements.config import StatementSettings
from services.statements.delivery import doc_of
from services.statements.repository import pdfs as repo


async def render_missing(
    svc: Service, *, cfg: StatementSettings, clock: Callable[[], float] = time.monotonic
) -> int:
    """One run: the PDFs of up to ``pdf_batch`` statements that have none yet, when the
    instance is idle; else of those waiting past ``pdf_max_wait_s`` only. ``clock``:
    ``time.monotonic`` (tests move it on)."""
    assert svc.pool is not None
    busy = svc.idle_for(clock()) < cfg.pdf_idle_s
    async with svc.pool.acquire() as conn, conn.transaction():
        rows = await repo.due(conn, cfg.pdf_batch, waited_s=cfg.pdf_max_wait_s if busy else None)
        if rows:
            bodies = [r["body"] for r in rows]
            if cfg.pdf_background:
                done = await _in_worker(bodies)
            else:
                done = render_all(bodies)
            await repo.keep(
                conn,
                [(r["statement_id"], r["tenant"], pdf) for r, pdf in zip(rows, done, strict=True)],
            )
    return len(rows)


def render_all(bodies: Sequence[Any]) -> list[bytes]:
    """The PDFs of statements' stored bodies (in the worker process, or in line)."""
    return [render.to_pdf(doc_of(b)) for b in bodies]


_WORKER: ProcessPoolExecutor | None = None


def _lowest_priority() -> None:
    os.nice(19)


async def _in_worker(bodies: list[Any]) -> list[bytes]:
    global _WORKER
    try:
        return await asyncio.get_running_loop().run_in_executor(_worker(), render_all, bodies)
    except BrokenProcessPool:
        _WORKER = None  # the worker died (killed, out of memory): a new one next run
        raise


def _worker() -> ProcessPoolExecutor:
    """The process's one rendering worker, started on first use (spawned: the service's
    event loop and connections are not forked into it; it ends with its parent)."""
    global _WORKER
    if _WORKER is None:
        _WORKER = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_lowest_priority,
        )
    return _WORKER
