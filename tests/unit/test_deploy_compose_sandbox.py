"""deploy/compose, profile sandbox: the simulator gets the clearinghouse mailbox it works.

The sftp service (Debian's OpenSSH, deploy/sftp) and the simulator share one mailbox
volume; with sandbox.env the connector's secrets are deploy/compose/sandbox/, whose
account is the sftp service; without it (production) none of this runs. Validated as
tests/unit/test_deploy_compose.py does: no Docker engine is started.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

import pytest

from services.connector.config import load_accounts
from tests.unit.test_deploy_compose import COMPOSE_DIR, compose

pytestmark = pytest.mark.unit

REPO = COMPOSE_DIR.parent.parent
SFTP = REPO / "deploy" / "sftp"
SANDBOX_ENV = COMPOSE_DIR / "sandbox.env"
SANDBOX = ("simulator", "sftp", "sftp-mailbox")


def sshd() -> dict[str, str]:
    text = (SFTP / "sshd_config").read_text()
    lines = [ln.split(None, 1) for ln in text.splitlines() if ln and not ln.startswith("#")]
    return {pair[0]: pair[1] for pair in lines}


def sandbox_env() -> dict[str, str]:
    lines = [ln for ln in SANDBOX_ENV.read_text().splitlines() if ln and not ln.startswith("#")]
    return dict(ln.split("=", 1) for ln in lines)


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${NAME:-default}, the one form the secrets' paths use."""
    return re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m.group(1), m.group(2)), value)


def volume_at(svc: dict[str, Any], path: str) -> str:
    [name] = [v.split(":")[0] for v in svc["volumes"] if v.split(":")[1] == path]
    return name


def test_the_simulator_and_the_sftp_server_share_the_mailbox_at_the_path_it_is_told() -> None:
    services = compose()["services"]
    told = services["simulator"]["environment"]["RCM_SIMULATOR_MAILBOX_DIR"]
    assert told == sshd()["ChrootDirectory"]  # the account's folders are the simulator's
    root = str(PurePosixPath(told).parent)  # its own archive lives beside them
    shared = volume_at(services["simulator"], root)
    assert volume_at(services["sftp"], root) == volume_at(services["sftp-mailbox"], root) == shared
    assert shared in compose()["volumes"]  # a named volume: the mailbox outlives restarts
    # the simulator starts once the folders exist with the owners sshd's chroot demands
    ready = services["simulator"]["depends_on"]["sftp-mailbox"]["condition"]
    assert ready == "service_completed_successfully"
    assert services["sftp"]["depends_on"]["sftp-mailbox"]["condition"] == ready
    # the rest of what every service waits for is still there (depends_on was replaced)
    assert {"topics", "db-roles"} <= set(services["simulator"]["depends_on"])
    assert not [n for n, s in services.items() if n not in SANDBOX and shared in str(s)]


def test_the_sftp_server_is_built_from_debian_and_runs_confined() -> None:
    services = compose()["services"]
    build = services["sftp-mailbox"]["build"]
    dockerfile = COMPOSE_DIR / build["context"] / build["dockerfile"]
    text = dockerfile.read_text()
    assert "FROM debian:bookworm-slim" in text
    assert "openssh-server" in text
    assert "COPY deploy/sftp/sshd_config /etc/ssh/rcm/sshd_config" in text
    assert services["sftp"]["image"] == services["sftp-mailbox"]["image"]
    assert "ports" not in services["sftp"]  # the connector reaches it on the compose network
    for name, caps in [
        ("sftp", {"AUDIT_WRITE", "KILL", "SETGID", "SETUID", "SYS_CHROOT"}),
        ("sftp-mailbox", {"CHOWN", "DAC_OVERRIDE", "FOWNER"}),
    ]:
        svc = services[name]
        assert svc["user"] == "0:0", name  # sshd's chroot needs root: confined instead
        assert svc["cap_drop"] == ["ALL"]
        assert set(svc["cap_add"]) == caps, name
        assert svc["read_only"] is True
        assert "no-new-privileges:true" in svc["security_opt"]
    assert "2222" in " ".join(services["sftp"]["healthcheck"]["test"])
    assert sshd()["Port"] == "2222"


def test_the_sftp_server_gets_its_host_key_and_the_connectors_public_key() -> None:
    doc = compose()
    prep = doc["services"]["sftp-mailbox"]
    files = {name: doc["secrets"][name]["file"] for name in prep["secrets"]}
    told = {
        prep["environment"]["RCM_SFTP_HOST_KEY_FILE"]: "./sandbox/ssh_host_ed25519_key",
        prep["environment"]["RCM_SFTP_AUTHORIZED_KEYS_FILE"]: "./sandbox/authorized_keys",
    }
    assert {f"/run/secrets/{name}": path for name, path in files.items()} == told
    # copied to root's own files in the keys volume, which sshd reads (and only reads)
    keys = str(PurePosixPath(sshd()["HostKey"]).parent)
    assert str(PurePosixPath(sshd()["AuthorizedKeysFile"]).parent) == keys
    assert f"{volume_at(prep, keys)}:{keys}:ro" in doc["services"]["sftp"]["volumes"]
    assert "secrets" not in doc["services"]["sftp"]


def test_with_sandbox_env_the_connector_uploads_to_the_sftp_service() -> None:
    doc = compose()
    env = sandbox_env()
    assert env["COMPOSE_PROFILES"] == "sandbox"
    assert (env["RCM_X12_USAGE"], env["RCM_CLEARINGHOUSE_URL"]) == ("T", "http://simulator:6106")
    connector = doc["services"]["connector"]
    secret_files = {
        name: COMPOSE_DIR / interpolate(doc["secrets"][name]["file"], env)
        for name in connector["secrets"]
    }
    accounts = secret_files["connector_accounts"]
    assert accounts == COMPOSE_DIR / "sandbox" / "accounts.json"
    [account] = load_accounts(accounts)
    assert account.host == "sftp"
    assert "sftp" in doc["services"]
    assert account.port == int(sshd()["Port"])
    assert account.username == sshd()["AllowUsers"]
    assert account.send_for == ["*"]
    # its key and pinned host key: the connector's own Compose secrets, from ./sandbox
    mounted = {f"/run/secrets/{name}": name for name in connector["secrets"]}
    assert mounted[str(account.key_file)] == "connector_key"
    assert mounted[str(account.known_hosts)] == "connector_known_hosts"
    assert secret_files["connector_key"].parent == accounts.parent
    # new-secrets.sh pins the server's key for the host and port the account dials
    pinned = f'"[{account.host}]:{account.port}"'
    assert f'new-keys.sh" "$here/sandbox" {pinned}' in (COMPOSE_DIR / "new-secrets.sh").read_text()


def test_without_sandbox_env_production_runs_no_mailbox_server_and_its_own_account() -> None:
    doc = compose()
    connector = doc["services"]["connector"]
    for name in connector["secrets"]:
        assert interpolate(doc["secrets"][name]["file"], {}).startswith("./connector/")
    for name in SANDBOX:
        assert doc["services"][name]["profiles"] == ["sandbox"]
    # the sandbox's keys never land in git; its account file (paths only) does
    ignored = (COMPOSE_DIR / ".gitignore").read_text().split()
    assert "sandbox/*" in ignored
    assert "!sandbox/accounts.json" in ignored
    assert "PRIVATE KEY" not in (COMPOSE_DIR / "sandbox" / "accounts.json").read_text()
