"""The coding service's knobs, from RCM_CODING_* environment variables (or a .env file).

Built once in :func:`services.coding.app.build` and passed to what needs it. (The
ICD-10-CM cache directory, ``RCM_CODING_CACHE_DIR``, is read where the cache is built:
:func:`services.coding.icd_cache.icd_cache_dir`, since the CLI and the builder's child
process need it too.)
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CodingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RCM_CODING_", env_file=".env", extra="ignore")

    reload_s: float = Field(
        default=300.0,
        gt=0,
        description="How often to look for a new NCCI/MUE, code-set or payer-rules load",
    )
    necessity_file: Path | None = Field(
        default=None,
        description=(
            "Medical-necessity table (CSV procedure_code,dx_low,dx_high,source) replacing "
            "the small bundled default"
        ),
    )
    payers_file: Path | None = Field(
        default=None,
        description="Payer list (CSV payer_id,name) replacing the bundled demo payers",
    )


def load_reference_files(cfg: CodingSettings) -> None:
    """Load the configured necessity table and payer list into this process."""
    from services.coding import reference

    if cfg.necessity_file is not None:
        reference.load_necessity_file(cfg.necessity_file)
    if cfg.payers_file is not None:
        reference.load_payer_file(cfg.payers_file)
