"""Configuration for every process, from RCM_* environment variables (or a .env file)."""

from __future__ import annotations

import urllib.parse
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


# Secrets that ship in this repository (defaults, compose, deploy/k8s's example file) or
# that any guesser tries first: never accepted with RCM_ENV=production.
KNOWN_SECRETS = frozenset(
    {
        "",
        "local-ops-token",
        "local-clearinghouse-token",
        "local-statement-link-key",
        "dev-only-audit-key-never-in-production",
        "change-me",
        "changeme",
        "rcm",
        "admin",
        "password",
        "postgres",
        "secret",
    }
)
MIN_SECRET_LEN = 16
#: The local simulator's real-time endpoint: the dev default, never production's.
SIMULATOR_URL = "https://127.0.0.1:6156"  # the simulator's CAQH CORE endpoint (TLS)
#: Hosts that are the simulator (the local stack, compose and the k8s sandbox overlay).
SIMULATOR_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "simulator", "rcm-simulator"})
TLS_SSLMODES = frozenset({"require", "verify-ca", "verify-full"})
TLS_KAFKA = frozenset({"SSL", "SASL_SSL"})


class ProductionRefused(Exception):
    """Not a ValueError, so pydantic does not wrap it with the input (secrets included)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("RCM_ENV=production refuses to start:\n" + "\n".join(problems))
        self.problems = problems


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RCM_", env_file=".env", extra="ignore")

    env: str = Field(
        default="dev",
        pattern=r"^(dev|production)$",
        description="production refuses to start with a default or example secret, TLS off"
        " to Kafka or PostgreSQL, or a plain-HTTP clearinghouse (docs/security.md)",
    )

    kafka_bootstrap: str = Field(
        default="", description="host:port[,host:port]; local stack if empty"
    )
    kafka_security_protocol: str = Field(
        default="PLAINTEXT", pattern=r"^(PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL)$"
    )
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_auth: bool = Field(
        default=False,
        description="The local stack's Kafka takes SASL/SCRAM only and enforces each"
        " service's ACLs (`rcm stack up --kafka-auth`); needs a freshly formatted broker",
    )
    kafka_replication_factor: int = Field(
        default=1, ge=1, le=5, description="For topics `rcm stack up` creates; 3 in production"
    )
    kafka_fetch_sessions: bool = Field(
        default=True,
        description="Consumers fetch through incremental fetch sessions (KIP-227): a fetch"
        " names only the partitions that changed. False sends every fetch in full",
    )

    database_url: str = Field(
        default="", description="asyncpg DSN (?sslmode=require for TLS); local stack if empty"
    )
    database_migrate_url: str = Field(
        default="",
        description="DSN of the role that owns the service's schema and runs its migrations"
        " (rcm_<schema>_owner); RCM_DATABASE_URL is the runtime role (rcm_<schema>). Same as"
        " RCM_DATABASE_URL if empty, which production refuses (docs/security.md)",
    )
    db_pool_max: int = Field(default=8, ge=1, le=100)
    batch_within_s: float = Field(
        default=0.02,
        gt=0,
        le=5,
        description="Longest a consumer waits to fill a batch: longer batches cost less per"
        " message at moderate load, and add up to this much latency per hop",
    )

    dedupe_retention_days: int = Field(
        default=15,
        ge=1,
        le=3650,
        description="How long a consumed message's id is kept to recognise a redelivery;"
        " keep it longer than the topics' retention (14 days in deploy/k8s)",
    )

    error_detail_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="How long a dead letter's full error text (it may hold PHI) is kept in"
        " the restricted dead_letter_details table",
    )

    stack_dir: Path = Field(default=REPO_ROOT / ".stack", description="Local stack cache and data")
    # Below the kernel's ephemeral range (32768-60999): a client socket can never hold the
    # port while the broker or database restarts.
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    kafka_heap: str = "768m"
    pg_port: int = 15432
    sftp_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="The local stack's SFTP server (sshd); 0: the Kafka port less 70 (19022)",
    )
    fleet_reporting: bool = Field(
        default=False,
        description="The local fleet (demo, bench, chaos, e2e) also runs reporting; off"
        " until its cost in a burst is cut (docs/performance.md)",
    )
    external_stack: bool = Field(
        default=False, description="Use Kafka and PostgreSQL configured above; start nothing"
    )

    ops_token: SecretStr = Field(
        default=SecretStr("local-ops-token"),
        description="Bearer token for every service's /metrics and ops routes",
    )
    audit_key: SecretStr = Field(
        default=SecretStr("dev-only-audit-key-never-in-production"),
        description="HMAC key of the gateway's PHI audit chain and its checkpoints; held"
        " outside the database. The default is for dev only",
    )
    audit_checkpoint_dir: Path | None = Field(
        default=None,
        description="Where the signed audit checkpoints are written (outside the database;"
        " <stack_dir>/audit if empty)",
    )
    audit_checkpoint_s: float = Field(
        default=60.0, gt=0, description="How often the gateway anchors the audit chain's head"
    )
    http_host: str = "127.0.0.1"
    http_port_offset: int = Field(
        default=0, ge=0, le=50000, description="Added to every ops port (several instances)"
    )
    log_level: str = "INFO"
    otel_exporter: str = Field(default="none", pattern=r"^(none|console|otlp|jsonl)$")
    otel_dir: Path = Field(default=Path("traces"), description="Where the jsonl exporter writes")

    x12_submitter_id: str = Field(default="RCMPIPELINE", max_length=15)
    x12_submitter_name: str = "RCM PIPELINE BILLING"
    x12_submitter_phone: str = Field(default="5555550100", pattern=r"^\d{10}$")
    x12_receiver_id: str = Field(default="SIMCLEARHOUSE", max_length=15)
    x12_receiver_name: str = "SIM CLEARINGHOUSE"
    x12_usage: str = Field(
        default="",
        pattern=r"^[TP]?$",
        description="ISA15 test or production; P with RCM_ENV=production (T is refused"
        " there), else T",
    )

    clearinghouse_url: str = Field(
        default=SIMULATOR_URL,
        description="The clearinghouse's CAQH CORE real-time endpoint base (270/271,"
        " 276/277; RCM_CORE_PATH is appended); the default is the local simulator's,"
        " which production refuses",
    )
    clearinghouse_token: SecretStr = Field(
        default=SecretStr("local-clearinghouse-token"),
        description="The CORE password (UsernameToken / Password field) unless RCM_CORE_PASSWORD",
    )

    statement_link_key: SecretStr = Field(
        default=SecretStr("local-statement-link-key"),
        description="Signs the links in statement emails (statements signs, the gateway checks)",
    )

    tenant: str = "demo-clinic"

    @model_validator(mode="after")
    def _local_stack_defaults(self) -> Settings:
        if not self.kafka_bootstrap:
            self.kafka_bootstrap = f"127.0.0.1:{self.kafka_port}"
        if not self.sftp_port:
            # follows the .env port scheme: every worktree that moves Kafka moves sshd too
            self.sftp_port = self.kafka_port - 70
        if not self.x12_usage:
            self.x12_usage = "P" if self.env == "production" else "T"
        if not self.database_url:
            # The local stack is loopback only: plaintext. asyncpg's default (sslmode=prefer)
            # would negotiate TLS and spend CPU on both ends of every round trip. Anything
            # off this machine sets RCM_DATABASE_URL with sslmode=verify-full.
            self.database_url = f"postgresql://rcm@127.0.0.1:{self.pg_port}/rcm?sslmode=disable"
        return self

    def migrate_dsn(self) -> str:
        return self.database_migrate_url or self.database_url

    def audit_checkpoints(self) -> Path:
        return self.audit_checkpoint_dir or self.stack_dir / "audit"

    def audit_secret(self) -> bytes:
        return self.audit_key.get_secret_value().encode()

    @model_validator(mode="after")
    def _production_refuses_weak_setups(self) -> Settings:
        if self.env == "production":
            problems = production_problems(self)
            if problems:
                raise ProductionRefused(problems)
        return self


def _weak(secret: str) -> bool:
    return secret.strip().lower() in KNOWN_SECRETS or len(secret) < MIN_SECRET_LEN


def production_problems(s: Settings) -> list[str]:
    """One line per thing production must not run with (names the variable, never a value)."""
    out = []
    if _weak(s.ops_token.get_secret_value()):
        out.append(f"RCM_OPS_TOKEN is a default or example value, or under {MIN_SECRET_LEN} chars")
    if _weak(s.clearinghouse_token.get_secret_value()):
        out.append(
            "RCM_CLEARINGHOUSE_TOKEN is a default or example value,"
            f" or under {MIN_SECRET_LEN} chars"
        )
    if _weak(s.statement_link_key.get_secret_value()):
        out.append(
            f"RCM_STATEMENT_LINK_KEY is a default or example value, or under {MIN_SECRET_LEN} chars"
        )
    if _weak(s.audit_key.get_secret_value()):
        out.append(f"RCM_AUDIT_KEY is a default or example value, or under {MIN_SECRET_LEN} chars")
    dsn = urllib.parse.urlsplit(s.database_url)
    if dsn.password is not None and urllib.parse.unquote(dsn.password).lower() in KNOWN_SECRETS:
        out.append("RCM_DATABASE_URL has a default or example password")
    out += _role_problems(s, dsn)
    sslmode = urllib.parse.parse_qs(dsn.query).get("sslmode", ["prefer"])[-1]
    if sslmode not in TLS_SSLMODES:
        out.append(
            f"RCM_DATABASE_URL: sslmode={sslmode} lets PostgreSQL traffic go unencrypted;"
            " use sslmode=verify-full"
        )
    if s.kafka_security_protocol not in TLS_KAFKA:
        out.append(
            f"RCM_KAFKA_SECURITY_PROTOCOL={s.kafka_security_protocol} is not TLS;"
            " use SSL or SASL_SSL"
        )
    sasl = s.kafka_sasl_password
    if sasl is not None and sasl.get_secret_value().strip().lower() in KNOWN_SECRETS:
        out.append("RCM_KAFKA_SASL_PASSWORD is a default or example value")
    if not s.clearinghouse_url.lower().startswith("https://"):
        out.append("RCM_CLEARINGHOUSE_URL (real-time 270/271, 276/277, CORE) is not https://")
    host = (urllib.parse.urlsplit(s.clearinghouse_url).hostname or "").lower()
    if host in SIMULATOR_HOSTS or host.startswith(("simulator.", "rcm-simulator.")):
        out.append(
            "RCM_CLEARINGHOUSE_URL points at the simulator (or this machine);"
            " production needs the clearinghouse's endpoint"
        )
    if host.endswith(".invalid"):
        out.append(
            "RCM_CLEARINGHOUSE_URL is the shipped placeholder; set your clearinghouse's endpoint"
        )
    if s.x12_usage != "P":
        out.append("RCM_X12_USAGE=T sends test interchanges (ISA15 T); production sends P")
    return out


#: Roles that own everything in the images and charts this repository ships.
SUPERUSER_NAMES = frozenset({"postgres", "rcm"})


def _role_problems(s: Settings, dsn: urllib.parse.SplitResult) -> list[str]:
    """The runtime role is not the superuser or the migration role (checked again against
    the database at start: runtime.db.refuse_privileged_runtime)."""
    out = []
    user = urllib.parse.unquote(dsn.username or "")
    if user.lower() in SUPERUSER_NAMES or not user:
        out.append(
            "RCM_DATABASE_URL names no role or the database owner; use the service's runtime"
            " role (rcm_<schema>)"
        )
    migrate_user = urllib.parse.urlsplit(s.database_migrate_url).username
    if not s.database_migrate_url or migrate_user == dsn.username:
        out.append(
            "RCM_DATABASE_MIGRATE_URL must name the schema's owner role (rcm_<schema>_owner),"
            " a role other than RCM_DATABASE_URL's"
        )
    return out


@lru_cache(maxsize=1)
def settings() -> Settings:
    try:
        return Settings()
    except ProductionRefused as exc:
        raise SystemExit(str(exc)) from None  # the problems, one a line; exit status 1
