"""The coding schema: NCCI/MUE tables, CPT codes, patient history, last inputs.

Every function takes an asyncpg connection whose ``search_path`` is the coding
schema (the service's pool, or the CLI's) and does no commit of its own: callers
run them inside their transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

import asyncpg
import orjson

from runtime.db import columns
from schemas.events import ClaimCoded, EligibilityChecked
from services.coding.edits.facts import PriorService, billed_payer
from services.coding.ncci import (
    BUNDLED_SOURCE,
    EditTables,
    MueEdit,
    PtpEdit,
    bundled_mue,
    bundled_ptp,
)
from services.coding.ptp_index import PtpIndex

# --------------------------------------------------------------------------- NCCI / MUE


async def replace_ptp(conn: asyncpg.Connection, edits: Sequence[PtpEdit], source: str) -> int:
    """Replace the PTP table with a complete quarterly release (all of f1-f4 at once)."""
    await conn.execute("DELETE FROM ncci_ptp")
    rows: dict[tuple[str, str, dt.date], tuple[object, ...]] = {}
    for e in edits:  # a pair repeated for one effective date: the later line wins
        rows[(e.column1, e.column2, e.effective)] = (
            e.column1,
            e.column2,
            e.effective,
            e.deletion,
            e.prior_1996,
            e.modifier_indicator,
            e.rationale,
            source,
        )
    await conn.copy_records_to_table(
        "ncci_ptp",
        records=list(rows.values()),
        columns=[
            "column1",
            "column2",
            "effective_date",
            "deletion_date",
            "prior_1996",
            "modifier_indicator",
            "rationale",
            "source",
        ],
    )
    return len(rows)


async def load_mue(
    conn: asyncpg.Connection, edits: Sequence[MueEdit], effective: dt.date, source: str
) -> int:
    """Load a quarter's MUE table in force from ``effective``.

    Rows of earlier quarters still open end on ``effective`` (half-open); rows of this
    or later quarters are replaced, so loading the same file twice changes nothing.
    """
    await conn.execute("DELETE FROM ncci_mue WHERE effective_date >= $1", effective)
    await conn.execute(
        "UPDATE ncci_mue SET deletion_date = $1 WHERE deletion_date IS NULL OR deletion_date > $1",
        effective,
    )
    rows = {e.code: (e.code, effective, e.value, e.mai, e.rationale, source) for e in edits}
    await conn.copy_records_to_table(
        "ncci_mue",
        records=list(rows.values()),
        columns=["code", "effective_date", "mue_value", "mai", "rationale", "source"],
    )
    return len(rows)


async def seed_bundled(conn: asyncpg.Connection) -> bool:
    """Load the bundled demonstration subset when no NCCI/MUE table was ever loaded.

    Call inside a transaction: an advisory lock keeps two starting instances apart.
    """
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('rcm.coding.seed'))")
    has = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM ncci_ptp) OR EXISTS (SELECT 1 FROM ncci_mue)"
    )
    if has:
        return False
    await replace_ptp(conn, bundled_ptp(), BUNDLED_SOURCE)
    mue = bundled_mue()
    await load_mue(conn, mue, mue[0].effective, BUNDLED_SOURCE)
    return True


async def tables_stamp(conn: asyncpg.Connection) -> str:
    """Changes whenever a load changes the tables; cheap enough for a timer."""
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM ncci_ptp) AS p, (SELECT max(loaded_at) FROM ncci_ptp) AS pt,"
        " (SELECT count(*) FROM ncci_mue) AS m, (SELECT max(loaded_at) FROM ncci_mue) AS mt"
    )
    assert row is not None
    return f"{row['p']}@{row['pt']}/{row['m']}@{row['mt']}"


async def load_edit_tables(conn: asyncpg.Connection) -> EditTables:
    """Every PTP and MUE row, as the immutable tables the scrubber takes."""
    stamp = await tables_stamp(conn)
    dates: dict[dt.date, dt.date] = {}
    texts: dict[str, str] = {}

    def d(x: dt.date | None) -> dt.date | None:  # share equal dates and texts: 1M rows
        return None if x is None else dates.setdefault(x, x)

    # A cursor, packed row by row: CMS's full tables never sit in memory as records.
    ptp = PtpIndex()
    async with conn.transaction():
        async for r in conn.cursor(
            "SELECT column1, column2, effective_date, deletion_date, prior_1996,"
            " modifier_indicator, rationale FROM ncci_ptp ORDER BY effective_date DESC",
            prefetch=20_000,
        ):
            ptp.add(
                PtpEdit(
                    column1=r[0],
                    column2=r[1],
                    prior_1996=r[4],
                    effective=d(r[2]) or r[2],
                    deletion=d(r[3]),
                    modifier_indicator=r[5],
                    rationale=texts.setdefault(r[6], r[6]),
                )
            )
    mue = [
        MueEdit(
            code=r[0],
            value=r[1],
            mai=r[2],
            rationale=texts.setdefault(r[3], r[3]),
            effective=d(r[4]) or r[4],
            deletion=d(r[5]),
        )
        for r in await conn.fetch(
            "SELECT code, mue_value, mai, rationale, effective_date, deletion_date FROM ncci_mue"
            " ORDER BY effective_date DESC"
        )
    ]
    sources = sorted(
        {
            r[0]
            for r in await conn.fetch(
                "SELECT DISTINCT source FROM ncci_ptp UNION SELECT DISTINCT source FROM ncci_mue"
            )
        }
    )
    return EditTables.build(ptp, mue, version=f"{','.join(sources) or 'none'} {stamp}")


# --------------------------------------------------------------------------- CPT


async def load_cpt(conn: asyncpg.Connection, codes: Mapping[str, str], source: str) -> int:
    await conn.executemany(
        "INSERT INTO cpt_codes(code, description, source) VALUES ($1, $2, $3)"
        " ON CONFLICT (code) DO UPDATE SET description = excluded.description,"
        " source = excluded.source, loaded_at = now()",
        [(c, text, source) for c, text in codes.items()],
    )
    return len(codes)


async def cpt_codes(conn: asyncpg.Connection) -> dict[str, str]:
    return {r[0]: r[1] for r in await conn.fetch("SELECT code, description FROM cpt_codes")}


# --------------------------------------------------------------------------- history


class History:
    """The patients' earlier services that coding edits look at (HISTORY_CODES), read
    in one query and kept in memory as each claim of a batch is coded, so a claim sees
    the claims coded before it in the same batch; :meth:`flush` writes the batch's
    services (every code of each coded claim, replacing its earlier pass) and inputs."""

    def __init__(self, rows: Iterable[asyncpg.Record], codes: frozenset[str]) -> None:
        self.codes = codes
        self._prior: dict[tuple[str, str], list[PriorService]] = {}
        for r in rows:
            self._prior.setdefault((r["tenant"], r["patient_id"]), []).append(
                PriorService(
                    r["procedure_code"], r["date_of_service"], r["claim_id"], r["payer_id"]
                )
            )
        self._inputs: dict[str, tuple[str, str, str]] = {}
        self._services: dict[str, tuple[str, str, list[str], dt.date, str | None]] = {}
        self._cleared: set[tuple[str, str]] = set()

    @classmethod
    async def load(
        cls, conn: asyncpg.Connection, patients: Iterable[tuple[str, str]], codes: frozenset[str]
    ) -> History:
        keys = sorted(set(patients))
        rows = (
            await conn.fetch(
                "SELECT tenant, patient_id, procedure_code, date_of_service, claim_id,"
                " payer_id FROM patient_services WHERE (tenant, patient_id) IN"
                " (SELECT * FROM unnest($1::text[], $2::text[]))"
                " AND procedure_code = ANY($3::text[])",
                *columns(keys),
                sorted(codes),
            )
            if keys
            else []
        )
        return cls(rows, codes)

    def prior(self, tenant: str, patient_id: str) -> list[PriorService]:
        return list(self._prior.get((tenant, patient_id), []))

    def record(self, tenant: str, checked: EligibilityChecked, coded: ClaimCoded | None) -> None:
        """The claim's input and services (none while held), replacing its last pass."""
        claim_id, patient_id = checked.claim_id, checked.encounter.patient.id
        self._inputs[claim_id] = (tenant, checked.encounter_id, checked.model_dump_json())
        self._cleared.add((tenant, claim_id))
        self._services.pop(claim_id, None)
        mine = [p for p in self._prior.get((tenant, patient_id), []) if p.claim_id != claim_id]
        if coded is not None:
            codes = sorted({ln.procedure_code for ln in coded.lines})
            dos, payer = coded.date_of_service, billed_payer(checked)
            self._services[claim_id] = (tenant, coded.patient.id, codes, dos, payer)
            mine += [PriorService(c, dos, claim_id, payer) for c in codes if c in self.codes]
        self._prior[(tenant, patient_id)] = mine

    async def flush(self, conn: asyncpg.Connection) -> None:
        if self._inputs:
            await conn.execute(
                "INSERT INTO claim_inputs(claim_id, tenant, encounter_id, checked)"
                " SELECT c, t, e, k::json FROM unnest($1::text[], $2::text[], $3::text[],"
                " $4::text[]) AS i(c, t, e, k) ON CONFLICT (claim_id) DO UPDATE SET"
                " tenant = excluded.tenant, encounter_id = excluded.encounter_id,"
                " checked = excluded.checked, updated_at = now()",
                *columns((c, *rest) for c, rest in self._inputs.items()),
            )
        if self._cleared:
            await conn.execute(
                "DELETE FROM patient_services WHERE (tenant, claim_id) IN"
                " (SELECT * FROM unnest($1::text[], $2::text[]))",
                *columns(sorted(self._cleared)),
            )
        rows = [
            (tenant, patient, claim_id, code, dos, payer)
            for claim_id, (tenant, patient, codes, dos, payer) in self._services.items()
            for code in codes
        ]
        if rows:
            await conn.execute(
                "INSERT INTO patient_services(tenant, patient_id, claim_id, procedure_code,"
                " date_of_service, payer_id) SELECT * FROM unnest($1::text[], $2::text[],"
                " $3::text[], $4::text[], $5::date[], $6::text[])",
                *columns(rows),
            )
        self._inputs, self._services, self._cleared = {}, {}, set()


ResultRow = tuple[str, str, str, str, str]
"""A coding pass: (claim id, tenant, outcome, findings JSON, code sets JSON)."""


async def record_results(conn: asyncpg.Connection, trigger: str, rows: Sequence[ResultRow]) -> None:
    """Record coding passes, in order, with what triggered them."""
    await conn.execute(
        "INSERT INTO coding_results(claim_id, tenant, outcome, findings, code_sets, trigger)"
        " SELECT c, t, o, f::jsonb, s::jsonb, $1 FROM unnest($2::text[], $3::text[],"
        " $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS r(c, t, o, f, s, i) ORDER BY i",
        trigger,
        *columns(rows),
    )


async def last_input(
    conn: asyncpg.Connection, claim_id: str
) -> tuple[str, EligibilityChecked] | None:
    """(tenant, the last eligibility.checked) for a claim, or ``None``."""
    row = await conn.fetchrow(
        "SELECT tenant, checked FROM claim_inputs WHERE claim_id = $1", claim_id
    )
    if row is None:
        return None
    body = row["checked"]
    data = orjson.loads(body) if isinstance(body, str | bytes) else body
    return row["tenant"], EligibilityChecked.model_validate(data)


__all__ = [
    "History",
    "cpt_codes",
    "last_input",
    "load_cpt",
    "load_edit_tables",
    "load_mue",
    "replace_ptp",
    "seed_bundled",
    "tables_stamp",
]
