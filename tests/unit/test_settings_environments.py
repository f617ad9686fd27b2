"""RCM_ENV: production refuses the repository's secrets and unencrypted links, naming each
problem in one line; dev (the local stack, demo and tests) runs as before."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from rcm.processes import fleet_env
from runtime.settings import ProductionRefused, Settings, production_problems, settings

pytestmark = pytest.mark.unit

SOUND: dict[str, Any] = {
    "env": "production",
    "ops_token": SecretStr("x3N9q-ops-token-from-the-vault"),
    "clearinghouse_token": SecretStr("ch-7Yb2-token-from-the-vault"),
    "statement_link_key": SecretStr("sl-4Kd8-link-key-from-the-vault"),
    "audit_key": SecretStr("au-9Pz3-audit-key-from-the-vault"),
    "database_url": "postgresql://rcm_claims:Zq8-long-random@pg.internal:5432/rcm"
    "?sslmode=verify-full",
    "database_migrate_url": "postgresql://rcm_claims_owner:Yk2-long-random@pg.internal:5432/rcm"
    "?sslmode=verify-full",
    "kafka_bootstrap": "kafka.internal:9093",
    "kafka_security_protocol": "SASL_SSL",
    "kafka_sasl_mechanism": "SCRAM-SHA-512",
    "kafka_sasl_username": "rcm-claims",
    "kafka_sasl_password": SecretStr("k-7Yb2-sasl-from-the-vault"),
    "clearinghouse_url": "https://clearinghouse.example:8443",
}


def refusal(**overrides: Any) -> list[str]:
    with pytest.raises(ProductionRefused) as err:
        Settings(**{**SOUND, **overrides})
    first, *lines = str(err.value).splitlines()
    assert first == "RCM_ENV=production refuses to start:"
    assert lines == err.value.problems
    return lines


def test_production_starts_with_its_own_secrets_and_tls_everywhere() -> None:
    s = Settings(**SOUND)
    assert s.env == "production"
    assert s.x12_usage == "P"  # ISA15 P unless said otherwise (and T is refused)
    assert production_problems(s) == []


def test_production_with_every_default_names_each_problem_on_its_own_line() -> None:
    lines = refusal(
        ops_token=SecretStr("local-ops-token"),
        clearinghouse_token=SecretStr("local-clearinghouse-token"),
        statement_link_key=SecretStr("local-statement-link-key"),
        audit_key=SecretStr("dev-only-audit-key-never-in-production"),
        database_url="",  # the local stack's plaintext DSN
        kafka_bootstrap="",
        kafka_security_protocol="PLAINTEXT",
        kafka_sasl_password=None,
        clearinghouse_url="http://127.0.0.1:6106",
    )
    assert [line.split()[0].rstrip(":") for line in lines] == [
        "RCM_OPS_TOKEN",
        "RCM_CLEARINGHOUSE_TOKEN",
        "RCM_STATEMENT_LINK_KEY",
        "RCM_AUDIT_KEY",
        "RCM_DATABASE_URL",  # the local stack's superuser
        "RCM_DATABASE_URL",  # and plaintext
        "RCM_KAFKA_SECURITY_PROTOCOL=PLAINTEXT",
        "RCM_CLEARINGHOUSE_URL",
        "RCM_CLEARINGHOUSE_URL",
    ]
    assert "the database owner" in lines[4]
    assert "sslmode=disable" in lines[5]
    assert "points at the simulator" in lines[8]


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"ops_token": SecretStr("CHANGE-ME")}, "RCM_OPS_TOKEN"),
        ({"ops_token": SecretStr("short-token")}, "RCM_OPS_TOKEN"),
        ({"clearinghouse_token": SecretStr("change-me")}, "RCM_CLEARINGHOUSE_TOKEN"),
        ({"audit_key": SecretStr("short-audit-key")}, "RCM_AUDIT_KEY"),
        (
            {"database_url": "postgresql://rcm_claims:CHANGE-ME@pg:5432/rcm?sslmode=verify-full"},
            "RCM_DATABASE_URL has a default or example password",
        ),
        (
            {"database_url": "postgresql://rcm_claims:rcm@pg:5432/rcm?sslmode=verify-full"},
            "RCM_DATABASE_URL has a default or example password",
        ),
        (
            {"database_url": "postgresql://postgres:Zq8-long-random@pg/rcm?sslmode=verify-full"},
            "RCM_DATABASE_URL names no role or the database owner",
        ),
        ({"database_migrate_url": ""}, "RCM_DATABASE_MIGRATE_URL must name the schema's owner"),
        (
            {"database_migrate_url": "postgresql://rcm_claims:Zq8-long@pg/rcm?sslmode=require"},
            "RCM_DATABASE_MIGRATE_URL must name the schema's owner",
        ),
        ({"database_url": "postgresql://u:Zq8-long-random@pg/rcm"}, "sslmode=prefer"),
        ({"database_url": "postgresql://u:Zq8-long-random@pg/rcm?sslmode=allow"}, "sslmode=allow"),
        ({"kafka_security_protocol": "SASL_PLAINTEXT"}, "RCM_KAFKA_SECURITY_PROTOCOL"),
        ({"kafka_sasl_password": SecretStr("CHANGE-ME")}, "RCM_KAFKA_SASL_PASSWORD"),
        ({"clearinghouse_url": "http://clearinghouse.example"}, "RCM_CLEARINGHOUSE_URL"),
        ({"clearinghouse_url": "https://rcm-simulator:6106"}, "points at the simulator"),
        ({"clearinghouse_url": "https://localhost/x12"}, "points at the simulator"),
        ({"x12_usage": "T"}, "RCM_X12_USAGE=T"),
    ],
)
def test_each_weakness_alone_is_refused_by_name(override: dict[str, Any], named: str) -> None:
    lines = refusal(**override)
    assert len(lines) == 1
    assert named in lines[0]


def test_a_process_started_in_production_with_defaults_exits_naming_the_problems(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RCM_ENV", "production")
    monkeypatch.setenv("RCM_DATABASE_URL", "postgresql://rcm:hunter2-but-long@pg/rcm")
    settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exit_:
            settings()
    finally:
        settings.cache_clear()
    text = str(exit_.value.code)
    assert text.startswith("RCM_ENV=production refuses to start:\nRCM_OPS_TOKEN ")
    assert "sslmode=prefer" in text
    assert "hunter2" not in text  # names the variable, never its value


def test_dev_runs_with_the_local_defaults_and_the_fleet_runs_as_dev() -> None:
    s = Settings(env="dev", database_url="", kafka_bootstrap="")
    assert s.ops_token.get_secret_value() == "local-ops-token"
    assert "sslmode=disable" in s.database_url
    assert s.x12_usage == "T"  # dev sends test interchanges
    # what production would refuse: RCM_AUDIT_KEY too, the simulator URL (its CORE
    # endpoint is https, but on this machine), ISA15 T, and the superuser as runtime role
    # with no separate migration role
    assert len(production_problems(s)) == 10
    assert any("points at the simulator" in p for p in production_problems(s))
    assert fleet_env(s)["RCM_ENV"] == "dev"
    with pytest.raises(ValidationError, match="env"):
        Settings(env="prod")
