"""Least privilege on the real PostgreSQL (runtime/pgroles.py, made by `rcm stack up`):
each service's runtime role reaches only its own tables, the gateway only the views the
rooms grant it, the audit log is append-only for the application, Grafana sees no PHI
column, and production refuses a superuser or owner as the runtime role."""

from __future__ import annotations

import json

import asyncpg
import pytest
from pydantic import SecretStr

from rcm import stack
from rcm.stack_roles import role_dsn, roles_file
from runtime import pgroles
from runtime.db import create_pool, migrate_schema, refuse_privileged_runtime
from runtime.settings import REPO_ROOT, ProductionRefused, Settings
from services.gateway.audit_store import AuditEntry, append

pytestmark = pytest.mark.integration

DENIED = asyncpg.exceptions.InsufficientPrivilegeError
#: Columns that identify a patient or a visit (HIPAA's identifiers): Grafana sees none.
PHI = {
    "patient_id",
    "patient_ids",
    "patient_control_number",
    "guarantor_id",
    "claim_id",
    "claim_ids",
    "encounter_id",
    "payer_claim_number",
    "date_of_service",
    "last_name",
    "postal_code",
    "html",
    "body",
    "x12",
}


@pytest.fixture(scope="module")
async def roles(live_stack: Settings) -> dict[str, str]:
    """The rooms migrated (as the local superuser, which migrates as each owner role)."""
    for schema in sorted({*pgroles.GATEWAY_VIEWS, "gateway"}):  # every room it reads
        await migrate_schema(live_stack, schema, REPO_ROOT / "services" / schema / "migrations")
    return json.loads(roles_file(live_stack).read_text())


async def connect(s: Settings, roles: dict[str, str], role: str) -> asyncpg.Connection:
    """As ``role``, with the search_path its service's pool has (runtime.db.create_pool)."""
    schema = role.removeprefix("rcm_").removesuffix("_owner")
    return await asyncpg.connect(
        role_dsn(s.database_url, role, roles[role]), server_settings={"search_path": schema}
    )


async def test_the_claims_role_uses_its_tables_and_cannot_read_statements(
    live_stack: Settings, roles: dict[str, str]
) -> None:
    conn = await connect(live_stack, roles, "rcm_claims")
    try:
        assert await conn.fetchval("SELECT count(*) >= 0 FROM claims.claims")
        async with conn.transaction():  # DML on its own tables: yes (rolled back)
            await conn.execute("DELETE FROM claims.outbox WHERE false")
        for sql in (
            "SELECT count(*) FROM statements.ledger",
            "SELECT count(*) FROM statements.ledger_v1",
            "SELECT count(*) FROM remittance.claim_postings",
            "SELECT count(*) FROM gateway.audit_log",
        ):
            with pytest.raises(DENIED):
                await conn.fetchval(sql)
        for ddl in ("CREATE TABLE claims.intruder(x int)", "TRUNCATE claims.outbox"):
            with pytest.raises(DENIED):
                await conn.execute(ddl)
        with pytest.raises(DENIED, match="must be owner"):
            await conn.execute("ALTER TABLE claims.claim_events DISABLE TRIGGER ALL")
    finally:
        await conn.close()


async def test_the_gateway_reads_the_views_it_is_granted_and_no_table(
    live_stack: Settings, roles: dict[str, str]
) -> None:
    conn = await connect(live_stack, roles, "rcm_gateway")
    try:
        for schema, views in pgroles.GATEWAY_VIEWS.items():
            for view in views:
                assert await conn.fetchval(f"SELECT count(*) >= 0 FROM {schema}.{view}")
        for table in ("claims.claims", "remittance.claim_postings", "statements.ledger"):
            with pytest.raises(DENIED, match="permission denied for table"):
                await conn.fetchval(f"SELECT count(*) FROM {table}")
        with pytest.raises(DENIED):  # a view nobody granted it
            await conn.fetchval("SELECT count(*) FROM remittance.recoupment_v1")
    finally:
        await conn.close()


async def test_the_audit_log_is_insert_only_for_the_gateway(
    live_stack: Settings, roles: dict[str, str]
) -> None:
    conn = await connect(live_stack, roles, "rcm_gateway")
    try:
        async with conn.transaction():
            seq = await append(
                conn,
                live_stack.audit_secret(),
                [AuditEntry("t-roles", "key-1", "claim.read", "/v1/claims/C1", "P1")],
            )
        assert await conn.fetchval("SELECT actor FROM gateway.audit_log WHERE seq = $1", seq)
        for sql in (
            "UPDATE gateway.audit_log SET actor = 'someone else' WHERE seq = $1",
            "DELETE FROM gateway.audit_log WHERE seq >= $1",
        ):
            with pytest.raises(DENIED, match="permission denied for table audit_log"):
                await conn.execute(sql, seq)
        with pytest.raises(DENIED, match="permission denied for table audit_log"):
            await conn.execute("TRUNCATE gateway.audit_log")
        for sql in (
            "ALTER TABLE gateway.audit_log DISABLE TRIGGER audit_log_no_change",
            "CREATE TRIGGER t BEFORE INSERT ON gateway.audit_log"
            " FOR EACH ROW EXECUTE FUNCTION gateway.audit_chain()",
        ):
            with pytest.raises(DENIED, match=r"must be owner|permission denied"):
                await conn.execute(sql)
        assert await conn.fetchval("SELECT actor FROM gateway.audit_log WHERE seq = $1", seq)
    finally:
        await conn.close()


async def test_grafana_sees_no_phi_column_and_no_table(
    live_stack: Settings, roles: dict[str, str]
) -> None:
    conn = await connect(live_stack, roles, pgroles.GRAFANA)
    try:
        readable = await conn.fetch(
            "SELECT table_schema, table_name, column_name FROM information_schema.column_privileges"
            " WHERE grantee = $1 AND privilege_type = 'SELECT'",
            pgroles.GRAFANA,
        )
        assert {(r["table_schema"], r["table_name"]) for r in readable} == set(
            pgroles.GRAFANA_COLUMNS
        )
        assert not {r["column_name"] for r in readable} & PHI
        row = await conn.fetchrow(
            "SELECT state, count(*) AS n, sum(total_charge_cents) AS charged"
            " FROM claims.claim_v1 GROUP BY state LIMIT 1"
        )
        assert row is None or row["n"] > 0  # the dashboard's query shape answers
        for sql in (
            "SELECT patient_id FROM claims.claim_v1",
            "SELECT * FROM claims.claim_v1",
            "SELECT count(*) FROM claims.claims",
            "SELECT last_name FROM statements.statement_delivery_v1",
            "SELECT count(*) FROM gateway.audit_log",
        ):
            with pytest.raises(DENIED):
                await conn.fetch(sql)
    finally:
        await conn.close()


def dashboard_queries() -> list[str]:
    """Every SQL statement the shipped Grafana dashboard runs, its tenant variable filled."""
    text = (REPO_ROOT / "deploy" / "grafana" / "dashboards" / "rcm-pipeline.json").read_text()
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("rawSql", "query") and isinstance(value, str) and "SELECT" in value:
                    found.append(value.replace("${tenant:sqlstring}", "'t-roles'"))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(text))
    return found


async def test_the_grafana_dashboard_runs_as_the_grafana_role(
    live_stack: Settings, roles: dict[str, str]
) -> None:
    queries = dashboard_queries()
    assert len(queries) >= 3
    conn = await connect(live_stack, roles, pgroles.GRAFANA)
    try:
        for sql in queries:
            await conn.fetch(sql)  # raises if it needs a column or table not granted
    finally:
        await conn.close()


async def test_production_refuses_the_superuser_and_the_owner_as_runtime_role(
    live_stack: Settings, roles: dict[str, str]
) -> None:
    said = {}
    for role in ("rcm", "rcm_claims_owner", "rcm_claims"):
        conn = await (
            asyncpg.connect(live_stack.database_url)
            if role == "rcm"
            else connect(live_stack, roles, role)
        )
        try:
            said[role] = await pgroles.runtime_problems(conn, "claims")
        finally:
            await conn.close()
    assert said["rcm"] == [
        "RCM_DATABASE_URL: role rcm is a superuser; run as rcm_claims",
    ]
    assert len(said["rcm_claims_owner"]) == 1
    assert "owns schema claims" in said["rcm_claims_owner"][0]
    assert said["rcm_claims"] == []


async def test_a_production_service_whose_runtime_role_owns_its_schema_does_not_start(
    live_stack: Settings, roles: dict[str, str]
) -> None:
    ca = stack.pg_tls_dir(stack.pg_paths(live_stack)) / "ca.crt"
    tls = f"?sslmode=verify-full&sslrootcert={ca}"

    def dsn(role: str) -> str:
        return role_dsn(live_stack.database_url, role, roles[role]).split("?")[0] + tls

    secret = SecretStr("a-long-random-secret-from-the-vault")
    s = Settings(
        env="production",
        database_url=dsn("rcm_claims_owner"),  # the owner, posing as the runtime role
        database_migrate_url=dsn("rcm_remittance_owner"),
        ops_token=secret,
        clearinghouse_token=secret,
        statement_link_key=secret,
        audit_key=secret,
        kafka_bootstrap="kafka.internal:9093",
        kafka_security_protocol="SASL_SSL",
        clearinghouse_url="https://clearinghouse.example",
    )
    pool = await create_pool(s, "claims", max_size=1)
    try:
        with pytest.raises(ProductionRefused, match="owns schema claims"):
            await refuse_privileged_runtime(s, pool, "claims")
        right = s.model_copy(update={"database_url": dsn("rcm_claims")})
        runtime_pool = await create_pool(right, "claims", max_size=1)
        try:
            await refuse_privileged_runtime(right, runtime_pool, "claims")  # starts
        finally:
            await runtime_pool.close()
    finally:
        await pool.close()


async def test_service_roles_must_give_their_password(
    live_stack: Settings, roles: dict[str, str]
) -> None:
    with pytest.raises(asyncpg.exceptions.InvalidPasswordError):
        await asyncpg.connect(role_dsn(live_stack.database_url, "rcm_claims", "guess"))
