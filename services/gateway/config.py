"""Gateway settings, from RCM_GATEWAY_* environment variables (Kafka and PostgreSQL from RCM_*)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PORT = 6100


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RCM_GATEWAY_", env_file=".env", extra="ignore")

    port: int = PORT
    schema_name: str = Field(default="gateway", pattern=r"^[a-z_][a-z0-9_]{0,40}$")
    claims_schema: str = Field(default="claims", pattern=r"^[a-z_][a-z0-9_]{0,40}$")
    remittance_schema: str = Field(default="remittance", pattern=r"^[a-z_][a-z0-9_]{0,40}$")
    statements_schema: str = Field(default="statements", pattern=r"^[a-z_][a-z0-9_]{0,40}$")
    max_body_bytes: int = Field(default=2_000_000, ge=1024, description="Largest request body")
    kafka_timeout_s: float = Field(default=10.0, gt=0, description="Wait this long for an ack")
    retry_after_s: int = Field(default=5, ge=1, description="Retry-After on 503")
    key_cache_s: float = Field(default=10.0, ge=0, description="How long a key lookup is cached")
    db_pool_max: int = Field(default=16, ge=2, le=100)
    topic_prefix: str = Field(
        default="", pattern=r"^[A-Za-z0-9._-]{0,60}$", description="Tests write to their own topics"
    )
