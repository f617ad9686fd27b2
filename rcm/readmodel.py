"""Read-only queries over the views the services publish (docs/views.md), for the demo
summary and the tests."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import asyncpg

from schemas.events import EncounterCreated
from services.claims.saga import State, automatic_step_left


async def claim_states(conn: asyncpg.Connection, claim_ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT claim_id, state, self_pay, patient_responsibility_cents, total_charge_cents"
        " FROM claims.claim_v1 WHERE claim_id = ANY($1::text[])",
        claim_ids,
    )
    return {r["claim_id"]: dict(r) for r in rows}


def unsettled(claim_ids: list[str], states: dict[str, dict[str, Any]]) -> list[str]:
    """Claims with an automatic step still ahead; a claim with no row yet counts."""
    return [
        cid
        for cid in claim_ids
        if (row := states.get(cid)) is None
        or automatic_step_left(
            State(row["state"]), row["patient_responsibility_cents"], row["self_pay"]
        )
    ]


def pending(claim_ids: list[str], states: dict[str, dict[str, Any]]) -> int:
    return len(unsettled(claim_ids, states))


def where(claim_ids: list[str], states: dict[str, dict[str, Any]]) -> str:
    """How many of these claims are in each state, most first: "SUBMITTED 2900, ...";
    a claim the claims service has no row for yet counts as "not yet created"."""
    counts = Counter(
        str(row["state"]) if (row := states.get(cid)) is not None else "not yet created"
        for cid in claim_ids
    )
    return ", ".join(f"{state} {n}" for state, n in counts.most_common())


def charges(claim_ids: list[str], encounters: list[EncounterCreated]) -> dict[str, int]:
    """Each claim's charge in cents, from its encounter (claim_ids and encounters in step)."""
    return {
        cid: sum(line.charge_cents for line in e.lines)
        for cid, e in zip(claim_ids, encounters, strict=True)
    }


# Claims a person must fix before a payer can adjudicate them: their charges are in a
# work queue, neither paid, adjusted nor billed.
WORK_QUEUE_STATES = frozenset({State.HELD, State.REJECTED})


# Coordination of benefits: a later payer answers the patient share the payer before it
# left, so per claim only the last payer's patient responsibility counts, and a later
# payer's OA-23 (the prior payers' impact) is not money adjusted. A posting's level: its
# CLP02 (2/3, or 20/21: processed as secondary, tertiary), and at least 2 for a payer
# other than the claim's first to answer (a later payer's denial says CLP02 4).
_LEVELS = (
    "SELECT p.posting_id, GREATEST("
    " CASE WHEN p.status_code IN ('3', '21') THEN 3"
    "  WHEN p.status_code IN ('2', '20') THEN 2 ELSE 1 END,"
    " CASE WHEN p.payer_id <> first_value(p.payer_id) OVER (PARTITION BY p.claim_id"
    "  ORDER BY p.posting_id) THEN 2 ELSE 1 END) AS level"
    " FROM remittance.posting_v1 p WHERE p.claim_id = ANY($1::text[])"
)
_MONEY = (
    "SELECT coalesce(sum(paid_cents), 0)::bigint AS paid,"
    " coalesce(sum(patient_responsibility_cents) FILTER (WHERE level = last), 0)::bigint AS pr"
    " FROM (SELECT p.*, lv.level, max(lv.level) OVER (PARTITION BY p.claim_id) AS last"
    f" FROM remittance.posting_v1 p JOIN ({_LEVELS}) lv USING (posting_id)) x"
)
_ADJUSTED = (
    "SELECT -coalesce(sum(l.amount_cents), 0)::bigint FROM remittance.ledger_line_v1 l"
    f" JOIN ({_LEVELS}) lv USING (posting_id)"
    " WHERE l.claim_id = ANY($1::text[]) AND l.kind = 'adjustment' AND l.cas_group <> 'PR'"
    " AND NOT (lv.level > 1 AND l.cas_group = 'OA' AND l.reason = '23')"
)


async def coordination(conn: asyncpg.Connection, claim_ids: list[str]) -> dict[str, int]:
    """Secondary (and tertiary) claims sent, what later payers paid, claims a payer
    crossed over itself, and QMB patients' Medicare cost sharing written off."""
    sent = await conn.fetchval(
        "SELECT count(DISTINCT claim_id) FROM claims.claim_submission_v1"
        " WHERE claim_id = ANY($1::text[]) AND cob_level > 1",
        claim_ids,
    )
    later_paid = await conn.fetchval(
        "SELECT coalesce(sum(paid_cents), 0)::bigint FROM remittance.posting_v1"
        " WHERE claim_id = ANY($1::text[]) AND status_code IN ('2', '3', '20', '21')",
        claim_ids,
    )
    crossed = await conn.fetchval(
        "SELECT count(DISTINCT claim_id) FROM claims.claim_timeline_v1"
        " WHERE claim_id = ANY($1::text[]) AND event_type = 'rcm.claims.crossover'"
        " AND kind = 'transition'",
        claim_ids,
    )
    qmb = await conn.fetchval(
        "SELECT -coalesce(sum(amount_cents), 0)::bigint FROM statements.ledger_v1"
        " WHERE claim_id = ANY($1::text[]) AND kind = 'adjustment' AND reason = 'QMB'",
        claim_ids,
    )
    return {
        "secondary_claims": int(sent),
        "secondary_paid_cents": int(later_paid),
        "crossover_claims": int(crossed),
        "qmb_written_off_cents": int(qmb),
    }


async def line_denials(conn: asyncpg.Connection, claim_ids: list[str]) -> int:
    """Denied or reduced lines (claim level included) that became work items: counted,
    not money (their amounts are in adjusted_cents and patient_responsibility_cents)."""
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM remittance.line_denial_v1 WHERE claim_id = ANY($1::text[])",
            claim_ids,
        )
    )


async def appeals(conn: asyncpg.Connection, claim_ids: list[str]) -> dict[str, int]:
    """Appeals filed for the day's claims, and how many the payers overturned."""
    row = await conn.fetchrow(
        "SELECT count(*) AS filed, count(*) FILTER (WHERE outcome = 'overturned') AS overturned"
        " FROM claims.appeal_v1 WHERE claim_id = ANY($1::text[])",
        claim_ids,
    )
    return {"appeals": int(row["filed"]), "appeals_overturned": int(row["overturned"])}


#: People's and the cycle's changes to what patients owe, by claim kind (issue 29 parts 4
#: and 6): written off (a reason code: small balances, charity...), moved to the payers'
#: side by a transfer; and the guarantors' money: paid, refunded, held as a credit.
_PATIENT_SIDE = (
    "SELECT -coalesce(sum(l.amount_cents) FILTER (WHERE l.kind = 'write_off'"
    "   AND NOT c.self_pay), 0)::bigint AS written_off_insured,"
    " -coalesce(sum(l.amount_cents) FILTER (WHERE l.kind = 'write_off' AND c.self_pay), 0)"
    "   ::bigint AS written_off_self_pay,"
    " -coalesce(sum(l.amount_cents) FILTER (WHERE l.kind = 'transfer'), 0)::bigint AS to_payer"
    " FROM statements.ledger_v1 l JOIN statements.claim_charge_v1 c USING (claim_id)"
    " WHERE l.claim_id = ANY($1::text[])"
)
_PATIENT_MONEY = (
    "WITH g AS (SELECT DISTINCT tenant, guarantor_id FROM statements.claim_charge_v1"
    "   WHERE claim_id = ANY($1::text[]))"
    " SELECT -coalesce(sum(l.amount_cents) FILTER (WHERE l.kind = 'patient_payment'), 0)"
    "   ::bigint AS paid,"
    " coalesce(sum(l.amount_cents) FILTER (WHERE l.kind = 'refund'), 0)::bigint AS refunded,"
    " -coalesce(sum(l.amount_cents) FILTER (WHERE l.claim_id IS NULL), 0)::bigint AS credit,"
    " -coalesce(sum(l.amount_cents) FILTER (WHERE l.claim_id IS NOT NULL"
    "   AND l.kind IN ('patient_payment', 'credit_applied')), 0)::bigint AS on_claims"
    " FROM statements.ledger_v1 l JOIN g USING (tenant, guarantor_id)"
)


async def patient_side(conn: asyncpg.Connection, claim_ids: list[str]) -> dict[str, int]:
    """What people and the statement cycle changed of what patients owe, and the
    guarantors' money: ``patient_money_unreconciled_cents`` is what the guarantors paid
    that is neither on a claim, held as a credit, nor refunded (0 when the ledgers
    balance)."""
    side = await conn.fetchrow(_PATIENT_SIDE, claim_ids)
    money = await conn.fetchrow(_PATIENT_MONEY, claim_ids)
    return {
        "written_off_insured": int(side["written_off_insured"]),
        "written_off_self_pay": int(side["written_off_self_pay"]),
        "transferred_to_payer_cents": int(side["to_payer"]),
        "patient_paid_cents": int(money["paid"]),
        "refunded_cents": int(money["refunded"]),
        "credit_held_cents": int(money["credit"]),
        "patient_money_unreconciled_cents": int(money["paid"])
        - int(money["on_claims"])
        - int(money["credit"])
        - int(money["refunded"]),
    }


async def summary(
    conn: asyncpg.Connection, charges: dict[str, int], encounters: int
) -> dict[str, Any]:
    """The run's money, reconciled: what was charged (``charges``, cents by claim id) is
    paid by payers, adjusted, the patients' responsibility, billed to self-pay patients or
    waiting for a person in a work queue; ``unreconciled_cents`` is what none of those
    explain (0 when every claim has settled)."""
    claim_ids = list(charges)
    states = await claim_states(conn, claim_ids)
    money = await conn.fetchrow(_MONEY, claim_ids)
    adjusted = int(await conn.fetchval(_ADJUSTED, claim_ids))
    cob = await coordination(conn, claim_ids)
    statements = await conn.fetchval(
        "SELECT count(*) FROM statements.statement_v1 WHERE claim_ids && $1::text[]", claim_ids
    )
    waiting = sum(charges[cid] for cid, row in states.items() if row["state"] in WORK_QUEUE_STATES)
    self_pay = sum(
        charges[cid]
        for cid, row in states.items()
        if row["self_pay"] and row["state"] not in WORK_QUEUE_STATES
    )
    charged = sum(charges.values())
    side = await patient_side(conn, claim_ids)
    insured_wo, self_pay_wo = side.pop("written_off_insured"), side.pop("written_off_self_pay")
    # what patients still owe or paid: the payers' patient share less what was written
    # off (QMB, small balances, people's write-offs) or moved back to the payers' side
    paid = int(money["paid"])
    pr = int(money["pr"]) - cob["qmb_written_off_cents"] - insured_wo
    pr -= side["transferred_to_payer_cents"]
    self_pay -= self_pay_wo
    by_state = Counter(row["state"] for row in states.values())
    return {
        "encounters": encounters,
        "claims": len(states),
        "pending": pending(claim_ids, states),
        "charged_cents": charged,
        "paid_cents": paid,
        "adjusted_cents": adjusted,
        "patient_responsibility_cents": pr,
        "self_pay_cents": self_pay,
        "waiting_for_a_person_cents": waiting,
        **cob,
        "written_off_cents": insured_wo + self_pay_wo,
        **side,
        "line_denials": await line_denials(conn, claim_ids),
        **await appeals(conn, claim_ids),
        "unreconciled_cents": charged
        - paid
        - adjusted
        - pr
        - cob["qmb_written_off_cents"]
        - insured_wo
        - self_pay_wo
        - side["transferred_to_payer_cents"]
        - self_pay
        - waiting,
        "statements": int(statements),
        "underpaid_lines": await underpaid_lines(conn, claim_ids),
        "by_state": dict(sorted(by_state.items())),
    }


async def underpaid_lines(conn: asyncpg.Connection, claim_ids: list[str]) -> int:
    """Lines a payer allowed below the tenant's contract by more than its threshold
    (work items in the gateway's underpayments queue), reversed postings left out."""
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM remittance.underpayment_v1 u"
            " JOIN remittance.posting_v1 p USING (posting_id)"
            " WHERE u.claim_id = ANY($1::text[]) AND p.reversed_by_posting_id IS NULL",
            claim_ids,
        )
    )


async def interchanges(conn: asyncpg.Connection, claim_ids: list[str]) -> list[tuple[str, str]]:
    rows = await conn.fetch(
        "SELECT interchange_control_number AS icn, x12 FROM claims.interchange_v1"
        " WHERE claim_ids && $1::text[] ORDER BY 1",
        claim_ids,
    )
    return [(f"{r['icn']:09d}", r["x12"]) for r in rows]


async def remits(conn: asyncpg.Connection, claim_ids: list[str]) -> list[tuple[str, str]]:
    rows = await conn.fetch(
        "SELECT r.remit_id AS id, r.trace_number, r.x12 FROM remittance.remit_v1 r"
        " WHERE r.remit_id IN"
        " (SELECT remit_id FROM remittance.posting_v1 WHERE claim_id = ANY($1::text[]))"
        " ORDER BY r.remit_id",
        claim_ids,
    )
    return [(f"{r['id']:06d}-{r['trace_number']}", r["x12"]) for r in rows]


async def statements(conn: asyncpg.Connection, claim_ids: list[str]) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT statement_id, guarantor_id, claim_ids, balance_cents, aging_bucket,"
        " statement_date, due_date, body FROM statements.statement_v1"
        " WHERE claim_ids && $1::text[] ORDER BY statement_id",
        claim_ids,
    )
    return [dict(r) for r in rows]


async def transport(
    conn: asyncpg.Connection, tenant: str, icns: list[str], since: dt.datetime
) -> dict[str, int]:
    """How the run's files moved (the connector's views): its 837s uploaded to the
    SFTP mailbox, the files taken in from a mailbox and by import since ``since``;
    CORE real-time requests are not counted here yet (0)."""
    uploaded = await conn.fetchval(
        "SELECT count(*) FROM connector.outbound_files_v1 WHERE tenant = $1"
        " AND state = 'uploaded' AND control_number = ANY($2::text[])",
        tenant,
        icns,
    )
    rows = await conn.fetch(
        "SELECT account = '' AS imported, count(*) AS n FROM connector.receipts_v1"
        " WHERE tenant = $1 AND at >= $2 AND outcome = 'accepted' GROUP BY 1",
        tenant,
        since,
    )
    taken = {r["imported"]: int(r["n"]) for r in rows}
    return {
        "sftp_uploaded": int(uploaded or 0),
        "sftp_downloaded": taken.get(False, 0),
        "core_requests": 0,
        "imported": taken.get(True, 0),
    }
