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
"""

from __future__ import annotations

import time
from collections.abc import Callable

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
            await repo.keep(
                conn,
                [(r["statement_id"], r["tenant"], render.to_pdf(doc_of(r["body"]))) for r in rows],
            )
    return len(rows)
