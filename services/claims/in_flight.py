"""Which claims an early answer finds still waiting for their upload report.

The clearinghouse reads an 837 as soon as the connector has renamed it in the mailbox,
which is before claims has applied that upload's x12.file-sent (another topic, another
partition; an instance killed while it held that partition delays it by a session
timeout). A 999/277CA or an 835 for a claim still CODED and handed to the connector
proves the upload: claims submits the interchange then (``sent.submit_answered``)
instead of waiting for the report. (Waiting, by retrying the answer's batch, held the
report itself back when both were in one batch: a whole consumer stalled.)
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

_AWAITING = (
    "SELECT DISTINCT c.tenant, last.icn FROM claims c"
    " CROSS JOIN LATERAL (SELECT s.interchange_control_number AS icn FROM submissions s"
    "   WHERE s.claim_id = c.claim_id ORDER BY s.id DESC LIMIT 1) last"
    " WHERE c.claim_id = ANY($1::text[]) AND c.state = 'CODED' AND c.outgoing_frequency IS NULL"
    " AND ($2::bigint IS NULL OR last.icn = $2)"
    " ORDER BY last.icn"
)


async def awaiting_upload(
    conn: asyncpg.Connection, claim_ids: Sequence[str], icn: int | None
) -> list[tuple[str, int]]:
    """(tenant, interchange) of these claims that are CODED, handed to the connector in
    interchange ``icn`` (None: their latest) and not yet reported uploaded. One query."""
    rows = await conn.fetch(_AWAITING, list(claim_ids), icn)
    return [(r["tenant"], int(r["icn"])) for r in rows]
