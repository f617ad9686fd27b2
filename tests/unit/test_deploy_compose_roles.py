"""deploy/compose runs every service and Grafana as its own PostgreSQL role
(runtime/pgroles.py): a one-shot `db-roles` service, the only one holding the
superuser's password, runs `rcm db roles` with every role's password from the compose
.env; each service migrates as its owner role and runs as its runtime role."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from runtime import pgroles

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO / "deploy" / "compose"
DATASOURCES = REPO / "deploy" / "grafana" / "provisioning" / "datasources" / "datasources.yaml"
#: Every compose service that keeps state in PostgreSQL (its schema is its name).
WITH_SCHEMA = (
    "eligibility",
    "coding",
    "claims",
    "remittance",
    "statements",
    "simulator",
    "gateway",
)
REQUIRED = re.compile(r"^\$\{(?P<var>[A-Z0-9_]+):\?[^}]*\}$")


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((COMPOSE_DIR / "compose.yaml").read_text())
    return doc


def password_var(role: str) -> str:
    return f"PG_{role.upper()}_PASSWORD"


def dsn_role_and_var(dsn: str) -> tuple[str, str]:
    """The role a DSN signs in as and the .env variable its password is read from."""
    head, _, host = dsn.removeprefix("postgresql://").partition("@")
    assert host == "postgres:5432/rcm", dsn
    role, _, password = head.partition(":")
    found = REQUIRED.match(password)
    assert found, f"{role}'s password is not a required variable: {password}"
    return role, found["var"]


def test_each_service_runs_as_its_runtime_role_and_migrates_as_its_owner() -> None:
    services = compose()["services"]
    for name in WITH_SCHEMA:
        env = services[name]["environment"]
        assert dsn_role_and_var(env["RCM_DATABASE_URL"]) == (
            pgroles.runtime_role(name),
            password_var(pgroles.runtime_role(name)),
        )
        assert dsn_role_and_var(env["RCM_DATABASE_MIGRATE_URL"]) == (
            pgroles.owner_role(name),
            password_var(pgroles.owner_role(name)),
        )
        assert services[name]["depends_on"]["db-roles"] == {
            "condition": "service_completed_successfully"
        }
        assert "postgres" not in services[name]["depends_on"]  # db-roles waits for it


def test_only_the_roles_init_service_holds_the_superusers_password() -> None:
    doc = compose()
    holders = [
        name
        for name, svc in doc["services"].items()
        if "POSTGRES_PASSWORD" in json.dumps(svc.get("environment", {}))
    ]
    assert sorted(holders) == ["db-roles", "postgres"]
    init = doc["services"]["db-roles"]
    role, var = dsn_role_and_var(init["environment"]["RCM_DATABASE_URL"])
    assert (role, var) == ("rcm", "POSTGRES_PASSWORD")
    assert init["restart"] == "no"
    assert init["depends_on"]["postgres"]["condition"] == "service_healthy"
    # and no service without a schema (reporting, the topic maker) signs in at all
    for name in ("reporting", "topics"):
        assert "RCM_DATABASE_URL" not in doc["services"][name]["environment"]


def test_the_init_service_gives_rcm_db_roles_every_roles_password_from_the_env() -> None:
    doc = compose()
    init = doc["services"]["db-roles"]
    command = init["command"]
    assert command[:4] == ["rcm", "db", "roles", "--passwords"]
    [mounted] = [c for c in init["configs"] if c["target"] == command[4]]
    assert mounted["mode"] == 0o400  # readable by the image's user (10001) only
    content = doc["configs"][mounted["source"]]["content"]
    # what compose hands the container once it has put each variable's value in
    values = {password_var(r): f"secret-for-{r}" for r in pgroles.all_roles()}
    filled = re.sub(r"\$\{([A-Z0-9_]+):\?[^}]*\}", lambda m: values[m[1]], content)
    assert json.loads(filled) == {r: f"secret-for-{r}" for r in pgroles.all_roles()}


def test_grafana_reads_postgresql_as_its_read_only_role() -> None:
    doc = compose()
    [source] = [
        d
        for d in yaml.safe_load(DATASOURCES.read_text())["datasources"]
        if d["type"] == "grafana-postgresql-datasource"
    ]
    assert source["user"] == pgroles.GRAFANA
    var = source["secureJsonData"]["password"].removeprefix("$")
    assert var == password_var(pgroles.GRAFANA)
    env = doc["services"]["grafana"]["environment"]
    found = REQUIRED.match(env[var])
    assert found
    assert found["var"] == var
    assert doc["services"]["grafana"]["depends_on"]["db-roles"] == {
        "condition": "service_completed_successfully"
    }


def test_new_secrets_adds_the_role_passwords_to_an_older_env_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    script = tmp_path / "new-secrets.sh"
    script.write_bytes((COMPOSE_DIR / "new-secrets.sh").read_bytes())
    env = tmp_path / ".env"
    env.write_text("POSTGRES_PASSWORD=kept-from-before\nRCM_OPS_TOKEN=also-kept\n")
    env.chmod(0o644)
    subprocess.run(["sh", str(script)], check=True, capture_output=True)
    values = dict(line.split("=", 1) for line in env.read_text().splitlines())
    assert values["POSTGRES_PASSWORD"] == "kept-from-before"
    assert values["RCM_OPS_TOKEN"] == "also-kept"
    for role in pgroles.all_roles():
        assert len(values[password_var(role)]) == 48, role
    assert env.stat().st_mode & 0o777 == 0o600


def test_every_role_password_the_compose_file_asks_for_names_a_role() -> None:
    text = (COMPOSE_DIR / "compose.yaml").read_text()
    asked = set(re.findall(r"\$\{(PG_[A-Z0-9_]+_PASSWORD):\?", text))
    assert asked == {password_var(r) for r in pgroles.all_roles()}
