"""The connector's knobs, from RCM_CONNECTOR_* environment variables (or a .env file),
and its clearinghouse accounts, from a JSON file (``accounts_file``).

An account names a tenant, an SFTP host and port, the user, where its secrets are
(``key_file`` and/or ``password_file``: files a secret store mounts, never the values),
the pinned host key (``known_hosts``, OpenSSH format; a host key it does not hold stops
the account), the mailbox folders, what happens to a fetched file remotely
(``after_download``: ``archive`` moves it to ``archive_dir``, ``delete`` removes it), and
the clearinghouse's naming rule for uploaded 837s (``name_rule``: a str.format pattern
with ``{tenant}``, ``{sender}``, ``{receiver}``, ``{icn}``, ``{date}`` (CCYYMMDD),
``{time}`` (HHMMSS)). An upload is written as ``name + temp_suffix`` and renamed once
whole. ``send_for`` lists other tenants whose 837s the account uploads (``*``: any).
``rcm stack up`` writes the local mailbox's account file
(``.stack/sftp/accounts.json``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class AccountError(ValueError):
    """The accounts file is unreadable or wrong; the message says where."""


class Account(BaseModel):
    name: str = Field(description="The account's own name, unique; it keys transfers")
    tenant: str = Field(min_length=1, max_length=64)
    host: str = "127.0.0.1"
    port: int = Field(default=22, ge=1, le=65535)
    username: str = Field(min_length=1, max_length=64)
    key_file: Path | None = None
    password_file: Path | None = None
    known_hosts: Path
    outbound_dir: str = "outbound"
    inbound_dir: str = "inbound"
    archive_dir: str = "archive"
    after_download: Literal["archive", "delete"] = "archive"
    name_rule: str = "{sender}_{icn}_{date}{time}.837"
    temp_suffix: str = Field(default=".part", min_length=1)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    send_for: list[str] = Field(
        default_factory=list,
        description="Other tenants whose 837s this account uploads ('*': any tenant"
        " without an account of its own; the local stack's shared mailbox)",
    )

    @field_validator("name")
    @classmethod
    def _plain(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("letters, digits, '_', '.', '-' only, at most 64")
        return v


class ConnectorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RCM_CONNECTOR_", env_file=".env", extra="ignore")

    accounts_file: Path | None = Field(
        default=None, description="JSON list of SFTP accounts; none: the connector idles"
    )
    poll_s: float = Field(default=0.5, gt=0, description="How often each inbound folder is read")
    retry_min_s: float = Field(default=1.0, gt=0, description="First wait after a failed poll")
    retry_max_s: float = Field(default=60.0, gt=0, description="Longest wait between retries")


def sending_account(accounts: list[Account], tenant: str) -> Account | None:
    """The account that uploads the tenant's 837s: its own, else one sending for it by
    name, else one sending for any tenant ('*')."""
    for match in (
        lambda a: a.tenant == tenant,
        lambda a: tenant in a.send_for,
        lambda a: "*" in a.send_for,
    ):
        found = next((a for a in accounts if match(a)), None)
        if found is not None:
            return found
    return None


def load_accounts(path: Path | None) -> list[Account]:
    if path is None:
        return []
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AccountError(f"{path}: cannot read accounts ({type(exc).__name__})") from None
    if not isinstance(raw, list):
        raise AccountError(f"{path}: a JSON list of accounts expected")
    accounts: list[Account] = []
    for i, item in enumerate(raw, start=1):
        try:
            accounts.append(Account.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise AccountError(f"{path}: account {i}: {where}: {first['msg']}") from None
    names = [a.name for a in accounts]
    if len(set(names)) != len(names):
        raise AccountError(f"{path}: account names must be unique")
    return accounts
