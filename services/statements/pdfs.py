"""Each statement's PDF kept beside it (``statement_pdfs``, view ``statement_pdf_v1``), so
the billing office downloads the document the patient got (the gateway's account page)
and rendering stays with the room that owns statements.

A timer renders the statements issued without one, newest first, a batch a run
(``RCM_STATEMENTS_PDF_BATCH``, 0: off), off the posting path: a statement's PDF is there
seconds after it is issued.
"""

from __future__ import annotations

from runtime.service import Service
from services.statements import render
from services.statements.config import StatementSettings
from services.statements.delivery import doc_of
from services.statements.repository import pdfs as repo


async def render_missing(svc: Service, *, cfg: StatementSettings) -> int:
    """One run: the PDFs of up to ``pdf_batch`` statements that have none yet."""
    assert svc.pool is not None
    async with svc.pool.acquire() as conn, conn.transaction():
        rows = await repo.due(conn, cfg.pdf_batch)
        if rows:
            await repo.keep(
                conn,
                [(r["statement_id"], r["tenant"], render.to_pdf(doc_of(r["body"]))) for r in rows],
            )
    return len(rows)
