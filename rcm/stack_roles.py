"""The local stack's PostgreSQL roles (runtime/pgroles.py): made at `rcm stack up` with
generated passwords kept in the stack's folder (``pg-roles.json``, mode 0600), and the
per-service DSNs the local fleet runs its services with.

The cluster's superuser ``rcm`` keeps trust on loopback (tests, `rcm` commands, the
demo's read models); every other role must give its password (scram-sha-256).
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.parse
from pathlib import Path

from rcm.stack_base import Paths, log
from runtime import pgroles
from runtime.settings import Settings

HBA_MARK = "# rcm local stack: roles"
HBA = (
    f"{HBA_MARK}\n"
    "host all rcm 127.0.0.1/32 trust\n"
    "host all rcm ::1/128 trust\n"
    "host all all 127.0.0.1/32 scram-sha-256\n"
    "host all all ::1/128 scram-sha-256\n"
)


def roles_file(s: Settings) -> Path:
    return s.stack_dir / "pg-roles.json"


def passwords(s: Settings) -> dict[str, str]:
    """Every role's password: the ones kept, a new random one for any role without."""
    return kept_secrets(roles_file(s), pgroles.all_roles())


def kept_secrets(path: Path, names: list[str]) -> dict[str, str]:
    """A password for each name, kept in ``path`` (mode 0600); new ones are random."""
    kept: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    wanted = {r: kept.get(r) or secrets.token_urlsafe(24) for r in names}
    if wanted != kept:
        tmp = path.with_suffix(".partial")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(wanted, f, indent=1)
        tmp.replace(path)
    return wanted


def require_passwords(hba: Path) -> bool:
    """Puts the roles' lines first in pg_hba.conf (first match wins); True if changed."""
    text = hba.read_text()
    if HBA_MARK in text:
        return False
    hba.write_text(HBA + "\n" + text)
    return True


async def ensure_local_roles(s: Settings, pg: Paths) -> None:
    import asyncpg

    conn = await asyncpg.connect(host="127.0.0.1", port=s.pg_port, user="rcm", database="rcm")
    try:
        await pgroles.ensure_roles(conn, passwords(s))
        if require_passwords(pg.pg_data / "pg_hba.conf"):
            log("PostgreSQL: service roles sign in with their passwords (pg_hba reloaded)")
            await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


def role_dsn(base: str, role: str, password: str) -> str:
    parts = urllib.parse.urlsplit(base)
    netloc = f"{role}:{urllib.parse.quote(password, safe='')}@{parts.hostname}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def service_db_env(s: Settings, base: str, service: str) -> dict[str, str]:
    """RCM_DATABASE_URL (runtime role) and RCM_DATABASE_MIGRATE_URL (owner) for one
    service of the local fleet; nothing when ``base`` is not the local stack's superuser
    DSN, when the stack made no roles, or for a service without a schema."""
    path = roles_file(s)
    parts = urllib.parse.urlsplit(base)
    local = parts.username == "rcm" and parts.hostname in ("127.0.0.1", "localhost")
    if not (local and path.exists() and service in pgroles.SCHEMAS):
        return {}
    pw = json.loads(path.read_text())
    rt, owner = pgroles.runtime_role(service), pgroles.owner_role(service)
    if rt not in pw or owner not in pw:
        return {}
    return {
        "RCM_DATABASE_URL": role_dsn(base, rt, pw[rt]),
        "RCM_DATABASE_MIGRATE_URL": role_dsn(base, owner, pw[owner]),
    }
