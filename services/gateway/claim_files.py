"""A claim's 837s and 835s as a person reads them (the claim page), from the claims and
remittance rooms' views: each 837P the claim went out in (``claim_submission_v1``,
``interchange_v1``: this claim's CLM, diagnoses and service lines read from the file) and
each 835 payment posted to it (``posting_v1``, ``ledger_line_v1``, ``denial_v1``: paid,
adjustments with their CARC and RARC in words). The raw files are served whole by
``routes/app_files.py``; a file may carry other claims of the tenant, so its audit row
names every claim in it."""

from __future__ import annotations

from typing import Any

import asyncpg

from runtime.x12 import X12Error, cents, segments
from services.gateway.config import GatewaySettings
from services.gateway.ops_queries import GROUPS, REASONS

#: Remark codes (RARC) the simulated payers send, in words.
REMARKS = {
    "M15": "separately billed services were bundled",
    "M76": "diagnosis missing or incomplete",
    "MA18": "the claim was forwarded to the supplemental insurer",
    "MA130": "the claim has incomplete or invalid information; no appeal rights, resubmit",
    "N89": "the claim was forwarded to the supplemental insurer",
    "N130": "consult plan benefit documents for coverage",
    "N290": "the rendering provider's id is missing or invalid",
    "N362": "the number of days or units exceeds what is allowed",
    "N386": "this decision follows a national coverage determination",
    "N657": "the claim should be billed with the appropriate code",
}
FREQUENCY = {"1": "original", "7": "replacement", "8": "void"}
#: The patient-share reasons (CARC), besides the denials ops_queries names.
SHARES = {
    "1": "deductible",
    "2": "coinsurance",
    "3": "copay",
    "23": "what an earlier payer paid or adjusted",
    "94": "processed in excess of charges",
    "253": "sequestration (a reduction by law)",
}


def carc_words(group: str | None, reason: str | None) -> str:
    g = GROUPS.get(group or "", group or "")
    r = REASONS.get(reason or "") or SHARES.get(reason or "", f"reason {reason}")
    return f"{g}: {r}" if group else r


def read_837(text: str, pcn: str) -> dict[str, Any] | None:
    """This claim's part of an 837P: CLM, payer, diagnoses, lines; None when not found."""
    try:
        d, segs = segments(text)
    except X12Error:
        return None
    payer = ""
    out: dict[str, Any] | None = None
    for seg in segs:
        sid = seg[0]
        if out is None:
            if sid == "NM1" and len(seg) > 3 and seg[1] == "PR":
                payer = seg[3]
            elif sid == "CLM" and len(seg) > 5 and seg[1] == pcn:
                where = seg[5].split(d.component)
                out = {
                    "pcn": pcn,
                    "charge_cents": cents(seg[2]),
                    "place": where[0],
                    "frequency": FREQUENCY.get(where[-1], where[-1]),
                    "payer": payer,
                    "diagnoses": [],
                    "lines": [],
                    "original_ref": "",
                }
            continue
        if sid in ("CLM", "HL", "SE"):
            break
        _claim_segment(out, seg, d.component, d.repetition)
    return out


def _claim_segment(out: dict[str, Any], seg: list[str], comp: str, rep: str) -> None:
    sid = seg[0]
    if sid == "HI":
        for el in seg[1:]:
            parts = el.split(comp)
            if len(parts) > 1:
                code = parts[1]
                out["diagnoses"].append(code[:3] + "." + code[3:] if len(code) > 3 else code)
    elif sid == "REF" and len(seg) > 2 and seg[1] == "F8":
        out["original_ref"] = seg[2]
    elif sid == "SV1" and len(seg) > 4:
        proc = seg[1].split(comp)
        out["lines"].append(
            {
                "code": proc[1] if len(proc) > 1 else "",
                "modifiers": [m for m in proc[2:6] if m],
                "charge_cents": cents(seg[2]),
                "units": seg[4],
                "date": "",
            }
        )
    elif sid == "DTP" and len(seg) > 3 and seg[1] == "472" and out["lines"]:
        out["lines"][-1]["date"] = seg[3]


async def _exists(conn: asyncpg.Connection, view: str) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", view))


async def sent_837s(
    conn: asyncpg.Connection, g: GatewaySettings, tenant: str, claim_id: str
) -> list[dict[str, Any]]:
    c = g.claims_schema
    if not await _exists(conn, f"{c}.interchange_v1"):
        return []
    rows = await conn.fetch(
        "SELECT s.patient_control_number, s.frequency_code, s.interchange_control_number,"
        " s.submitted_at, i.payer_id, i.x12"
        f" FROM {c}.claim_submission_v1 s JOIN {c}.interchange_v1 i"
        "  ON i.interchange_control_number = s.interchange_control_number AND i.tenant = $1"
        " WHERE s.claim_id = $2 ORDER BY s.seq LIMIT 20",
        tenant,
        claim_id,
    )
    out = []
    for r in rows:
        row = dict(r)
        row["read"] = read_837(row.pop("x12"), r["patient_control_number"])
        out.append(row)
    return out


async def posted_835s(
    conn: asyncpg.Connection, g: GatewaySettings, tenant: str, claim_id: str
) -> list[dict[str, Any]]:
    r = g.remittance_schema
    if not await _exists(conn, f"{r}.posting_v1"):
        return []
    postings = [
        dict(p)
        for p in await conn.fetch(
            "SELECT posting_id, remit_id, payer_id, trace_number, payer_claim_number,"
            " status_code, adjudication_status, charge_cents, paid_cents,"
            " patient_responsibility_cents, posted_at, reverses_posting_id"
            f" FROM {r}.posting_v1 WHERE tenant = $1 AND claim_id = $2"
            " ORDER BY posted_at LIMIT 20",
            tenant,
            claim_id,
        )
    ]
    ids = [p["posting_id"] for p in postings]
    lines = await conn.fetch(
        "SELECT posting_id, line_number, procedure, cas_group, reason, amount_cents"
        f" FROM {r}.ledger_line_v1 WHERE claim_id = $2 AND posting_id = ANY($1)"
        " AND kind = 'adjustment' ORDER BY posting_id, line_number, line_id",
        ids,
        claim_id,
    )
    remarks = await conn.fetch(
        f"SELECT posting_id, line_number, cas_group, reason, remarks FROM {r}.denial_v1"
        " WHERE tenant = $1 AND claim_id = $3 AND posting_id = ANY($2)",
        tenant,
        ids,
        claim_id,
    )
    said = {
        (x["posting_id"], x["line_number"], x["cas_group"], x["reason"]): list(x["remarks"] or [])
        for x in remarks
    }
    for p in postings:
        p["adjustments"] = [
            {
                **dict(a),
                "words": carc_words(a["cas_group"], a["reason"]),
                "remarks": [
                    f"{m}: {REMARKS.get(m, 'remark code')}"
                    for m in said.get(
                        (p["posting_id"], a["line_number"], a["cas_group"], a["reason"]), []
                    )
                ],
            }
            for a in lines
            if a["posting_id"] == p["posting_id"]
        ]
    return postings


async def raw_837(
    conn: asyncpg.Connection, g: GatewaySettings, tenant: str, claim_id: str, icn: int
) -> tuple[str, list[str]] | None:
    """The interchange's text and every claim in it, when it carried this claim."""
    c = g.claims_schema
    if not await _exists(conn, f"{c}.interchange_v1"):
        return None
    row = await conn.fetchrow(
        f"SELECT x12, claim_ids FROM {c}.interchange_v1 WHERE tenant = $1"
        " AND interchange_control_number = $2 AND $3 = ANY(claim_ids)",
        tenant,
        icn,
        claim_id,
    )
    return (row["x12"], list(row["claim_ids"])) if row else None


async def raw_835(
    conn: asyncpg.Connection, g: GatewaySettings, tenant: str, claim_id: str, remit_id: int
) -> tuple[str, list[str]] | None:
    """The 835's text and every claim it names (CLP01), when it paid this claim."""
    r = g.remittance_schema
    if not await _exists(conn, f"{r}.remit_v1"):
        return None
    paid = await conn.fetchval(
        f"SELECT count(*) FROM {r}.posting_v1 WHERE tenant = $1 AND claim_id = $2"
        " AND remit_id = $3",
        tenant,
        claim_id,
        remit_id,
    )
    if not paid:
        return None
    x12 = await conn.fetchval(
        f"SELECT x12 FROM {r}.remit_v1 WHERE tenant = $1 AND remit_id = $2", tenant, remit_id
    )
    if x12 is None:
        return None
    return x12, sorted({claim_id, *clp01s(x12)})


def clp01s(text: str) -> list[str]:
    """The claims an 835 names (CLP01, the patient control numbers)."""
    try:
        _, segs = segments(text)
    except X12Error:
        return []
    return [s[1] for s in segs if s[0] == "CLP" and len(s) > 1]
