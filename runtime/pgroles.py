"""PostgreSQL least privilege: which role owns, runs and reads what (docs/security.md).

Per service schema two roles: ``rcm_<schema>_owner`` owns the schema and everything in it
and runs its migrations; ``rcm_<schema>`` is what the service runs as: DML on its own
tables, nothing else (no DDL, no TRUNCATE, no triggers). The gateway's role also reads
the views other rooms grant it (docs/views.md), never their tables; ``rcm_grafana``
reads the columns of a few views that carry no PHI. The gateway's audit table is
append-only for its runtime role: SELECT and INSERT, no UPDATE, DELETE, TRUNCATE or
TRIGGER, and not being the owner it cannot disable the chain's triggers.

Grants are applied by :func:`grant` after every migration of a schema (by its owner, or
a superuser), so a table a later migration adds is granted too. Nothing happens for a
role that does not exist: a database without these roles (a developer's scratch
database) keeps working as one owner.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import asyncpg

PREFIX = "rcm_"
#: Every schema a room migrates; reporting (faust) keeps no PostgreSQL state.
SCHEMAS: tuple[str, ...] = (
    "eligibility",
    "coding",
    "claims",
    "simulator",
    "remittance",
    "statements",
    "gateway",
    "connector",
)
GATEWAY = "gateway"
GRAFANA = f"{PREFIX}grafana"

#: The views each room lets the gateway's role read (docs/views.md, "read by gateway").
GATEWAY_VIEWS: Mapping[str, tuple[str, ...]] = {
    "claims": (
        "claim_v1",
        "claim_timeline_v1",
        "claim_submission_v1",
        "payer_v1",
        "appeal_v1",
        "interchange_v1",
    ),
    "remittance": (
        "remit_v1",
        "posting_v1",
        "denial_v1",
        "unmatched_v1",
        "underpayment_v1",
        "line_denial_v1",
        "ledger_line_v1",
    ),
    "statements": (
        "ledger_v1",
        "claim_charge_v1",
        "statement_v1",
        "statement_delivery_v1",
        "ledger_request_v1",
        "credit_balance_v1",
        "statement_pdf_v1",
        "refund_flag_v1",
    ),
    "connector": ("receipts_v1",),
    "eligibility": ("benefit_check_v1",),
}

#: Every room's runtime role that reads another room's views, and which (docs/views.md).
VIEW_READERS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    GATEWAY: GATEWAY_VIEWS,
    # a payer that answers no real-time 270 is decided from the registry
    "eligibility": {"claims": ("payer_v1",)},
}

#: What Grafana may read: view columns without PHI (no patient, guarantor, claim or
#: member ids, no names, addresses or dates of service), enough for counts and sums.
GRAFANA_COLUMNS: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("claims", "claim_v1"): (
        "tenant",
        "state",
        "hold_stage",
        "self_pay",
        "payer_id",
        "total_charge_cents",
        "paid_cents",
        "adjusted_cents",
        "patient_responsibility_cents",
        "cob_level",
    ),
    ("remittance", "denial_v1"): (
        "tenant",
        "payer_id",
        "cas_group",
        "reason",
        "amount_cents",
        "category",
    ),
}

#: Tables the runtime role may read and append to, never change or empty.
APPEND_ONLY: Mapping[str, tuple[str, ...]] = {"gateway": ("audit_log",)}
#: Tables whose text may hold PHI: the runtime role writes and prunes, never reads them
#: (runtime migration 0007); only the columns pruning needs are readable.
WRITE_ONLY: Mapping[str, tuple[str, ...]] = {"dead_letter_details": ("dead_letter_id", "at")}

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")


def _ok(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"bad identifier {name!r}")
    return name


def owner_role(schema: str) -> str:
    return f"{PREFIX}{_ok(schema)}_owner"


def runtime_role(schema: str) -> str:
    return f"{PREFIX}{_ok(schema)}"


def all_roles() -> list[str]:
    """Every login role the plan names, owners first."""
    return [owner_role(s) for s in SCHEMAS] + [runtime_role(s) for s in SCHEMAS] + [GRAFANA]


def grant_sql(schema: str, tables: Iterable[str], existing: set[str]) -> list[str]:
    """The statements that give ``schema``'s runtime role, the gateway and Grafana what
    the plan says, for the ``tables`` (and views) the schema holds now. ``existing`` is
    the set of roles present in the cluster: a missing one gets nothing."""
    s, rt = _ok(schema), runtime_role(schema)
    present = set(tables)
    out: list[str] = []
    if rt in existing:
        out += [
            f"GRANT USAGE ON SCHEMA {s} TO {rt}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {rt}",
            f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {s} TO {rt}",
            f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA {s} FROM {rt}",
        ]
        for table in APPEND_ONLY.get(schema, ()):
            if table in present:
                out.append(f"REVOKE UPDATE, DELETE ON {s}.{_ok(table)} FROM {rt}")
        for table, readable in WRITE_ONLY.items():
            if table in present:
                cols = ", ".join(_ok(c) for c in readable)
                out += [
                    f"REVOKE SELECT, UPDATE ON {s}.{_ok(table)} FROM {rt}",
                    f"GRANT SELECT ({cols}) ON {s}.{_ok(table)} TO {rt}",
                ]
    for reader, granted in VIEW_READERS.items():
        role = runtime_role(reader)
        views = [v for v in granted.get(schema, ()) if v in present]
        if role in existing and views:
            out.append(f"GRANT USAGE ON SCHEMA {s} TO {role}")
            out += [f"GRANT SELECT ON {s}.{_ok(v)} TO {role}" for v in views]
    graf = [(v, cols) for (sch, v), cols in GRAFANA_COLUMNS.items() if sch == s and v in present]
    if GRAFANA in existing and graf:
        out.append(f"GRANT USAGE ON SCHEMA {s} TO {GRAFANA}")
        for view, names in graf:
            cols = ", ".join(map(_ok, names))
            out.append(f"GRANT SELECT ({cols}) ON {s}.{view} TO {GRAFANA}")
    return out


async def existing_roles(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("SELECT rolname FROM pg_roles WHERE rolname LIKE 'rcm\\_%'")
    return {r["rolname"] for r in rows}


async def grant(conn: asyncpg.Connection, schema: str) -> int:
    """Applies the plan's grants for ``schema`` (idempotent); returns how many statements."""
    existing = await existing_roles(conn)
    tables = {
        r["relname"]
        for r in await conn.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm')",
            schema,
        )
    }
    statements = grant_sql(schema, tables, existing)
    async with conn.transaction():  # no moment with a grant taken back later in the list
        for sql in statements:
            await conn.execute(sql)
    return len(statements)


async def migration_role(conn: asyncpg.Connection, schema: str) -> str | None:
    """The role a migration of ``schema`` runs as: the schema's owner role when it exists
    and this connection's user may act as it (a superuser, or the owner itself)."""
    role: str | None = await conn.fetchval(
        "SELECT rolname FROM pg_roles WHERE rolname = $1"
        " AND pg_has_role(current_user, oid, 'USAGE')",
        owner_role(schema),
    )
    return role


async def prepare_schema(conn: asyncpg.Connection, schema: str) -> str | None:
    """Before migrating: makes ``schema`` if missing (owned by its owner role when that
    exists), adopts it for the owner role if a superuser made it as another role, and
    returns the role to migrate as (None: the connection's own)."""
    owner = await migration_role(conn, schema)
    current = await conn.fetchval(
        "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = $1", schema
    )
    if current is None:
        auth = f" AUTHORIZATION {owner}" if owner else ""
        await conn.execute(f"CREATE SCHEMA {_ok(schema)}{auth}")
    elif owner and current != owner and await conn.fetchval(_SUPER):
        await adopt(conn, schema, owner)
    return owner


_SUPER = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"


async def runtime_problems(conn: asyncpg.Connection, schema: str) -> list[str]:
    """Why this connection's role must not run a service in production: a superuser, a
    role that bypasses row security, or the owner of the schema (it could change the
    tables, disable triggers or rewrite the audit log). Names roles, never secrets."""
    row = await conn.fetchrow(
        "SELECT r.rolname, r.rolsuper, r.rolbypassrls,"
        " coalesce(pg_has_role(r.oid, n.nspowner, 'USAGE'), false) AS owns"
        " FROM pg_roles r LEFT JOIN pg_namespace n ON n.nspname = $1"
        " WHERE r.rolname = current_user",
        schema,
    )
    assert row is not None
    out = []
    if row["rolsuper"]:
        out.append(
            f"RCM_DATABASE_URL: role {row['rolname']} is a superuser; run as {runtime_role(schema)}"
        )
    elif row["rolbypassrls"]:
        out.append(f"RCM_DATABASE_URL: role {row['rolname']} bypasses row security")
    if row["owns"] and not row["rolsuper"]:
        out.append(
            f"RCM_DATABASE_URL: role {row['rolname']} owns schema {schema}; migrations run as"
            f" the owner (RCM_DATABASE_MIGRATE_URL), the service as {runtime_role(schema)}"
        )
    return out


async def ensure_roles(conn: asyncpg.Connection, passwords: Mapping[str, str]) -> None:
    """As a superuser: every role of the plan (created, or its password set), every
    schema owned by its owner role (created, or adopted with all it holds), and the
    grants. Idempotent; what `rcm stack up` and `rcm db roles` run."""
    for role in all_roles():
        verb = "ALTER" if await conn.fetchval(_ROLE, role) else "CREATE"
        literal = passwords[role].replace("'", "''")
        await conn.execute(
            f"{verb} ROLE {_ok(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS"
            f" NOINHERIT PASSWORD '{literal}'"
        )
    for schema in SCHEMAS:
        owner = owner_role(schema)
        if await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
            await adopt(conn, schema, owner)
        else:
            await conn.execute(f"CREATE SCHEMA {_ok(schema)} AUTHORIZATION {owner}")
    for schema in SCHEMAS:
        await grant(conn, schema)


_ROLE = "SELECT 1 FROM pg_roles WHERE rolname = $1"
_ALTER = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}


async def adopt(conn: asyncpg.Connection, schema: str, owner: str) -> None:
    """Makes ``owner`` the owner of ``schema`` and of every table, view, sequence and
    function in it (a schema its migrations made as another role before roles existed)."""
    s = _ok(schema)
    await conn.execute(f"ALTER SCHEMA {s} OWNER TO {_ok(owner)}")
    rels = await conn.fetch(
        "SELECT c.relname, c.relkind::text AS relkind FROM pg_class c JOIN pg_namespace n ON n.oid ="
        " c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r','p','v','m','S')"
        " AND c.relowner <> $2::regrole AND NOT EXISTS (SELECT 1 FROM pg_depend d"
        " WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN"
        " ('a', 'i'))",
        schema,
        owner,
    )
    for r in rels:
        await conn.execute(f'ALTER {_ALTER[r["relkind"]]} {s}."{r["relname"]}" OWNER TO {owner}')
    procs = await conn.fetch(
        "SELECT p.oid::regprocedure::text AS sig FROM pg_proc p JOIN pg_namespace n ON"
        " n.oid = p.pronamespace WHERE n.nspname = $1 AND p.proowner <> $2::regrole",
        schema,
        owner,
    )
    for p in procs:
        await conn.execute(f"ALTER ROUTINE {p['sig']} OWNER TO {owner}")
