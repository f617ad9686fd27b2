"""Remittance settings, from RCM_REMITTANCE_* environment variables (or a .env file)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SHIPPED_CONTRACTS = Path(__file__).parent / "contracts.csv"


class RemittanceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RCM_REMITTANCE_", env_file=".env", extra="ignore")

    contracts_csv: Path = Field(
        default=SHIPPED_CONTRACTS,
        description="Contracted fees per payer and procedure (CSV payer_id,procedure_code,"
        "allowed_cents), loaded at start-up: underpaid lines are flagged against them",
    )
    rematch_seconds: float = Field(
        default=2.0, gt=0, description="How often CLPs waiting for their claim are tried again"
    )
