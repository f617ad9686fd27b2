"""An answer that overtook its file. The clearinghouse reads an 837 as soon as the
connector has renamed it in the mailbox, which is before claims has applied that
upload's x12.file-sent (another topic, another partition: an instance killed while it
held that partition delays it by a session timeout). A 999/277CA or an 835 for a claim
still CODED, handed to the connector in that interchange, therefore waits for the
x12.file-sent: its batch is retried (:class:`NotSentYet`, a ``TimeoutError``, which
the runtime retries with backoff) instead of being an impossible step. The wait is
bounded: an interchange handed over more than :data:`WAIT_S` ago is not waited for
(the answer is applied as it stands)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

#: How long after the hand-over an early answer still waits for x12.file-sent.
WAIT_S = 600.0


class NotSentYet(TimeoutError):
    """The answer's interchange is not reported uploaded yet (x12.file-sent)."""


_AWAITING = (
    "SELECT EXISTS (SELECT 1 FROM claims c"
    " CROSS JOIN LATERAL (SELECT s.interchange_control_number AS icn FROM submissions s"
    "   WHERE s.claim_id = c.claim_id ORDER BY s.id DESC LIMIT 1) last"
    " JOIN interchanges i ON i.interchange_control_number = last.icn"
    " WHERE c.claim_id = ANY($1::text[]) AND c.state = 'CODED' AND c.outgoing_frequency IS NULL"
    " AND ($2::bigint IS NULL OR last.icn = $2)"
    " AND i.created_at > now() - make_interval(secs => $3))"
)


async def wait_for_upload(
    conn: asyncpg.Connection, claim_ids: Sequence[str], icn: int | None, what: str
) -> None:
    """Raises NotSentYet when one of these claims is CODED, handed to the connector in
    interchange ``icn`` (None: its latest) and the upload is not applied yet. One query."""
    if await conn.fetchval(_AWAITING, list(claim_ids), icn, WAIT_S):
        raise NotSentYet(f"{what} came before its interchange's x12.file-sent")
