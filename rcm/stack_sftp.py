"""The local stack's SFTP server: Debian's OpenSSH sshd on a loopback port, with a host
key the stack generates and one SFTP-only account chrooted to the mailbox (the way a
clearinghouse gives a practice a mailbox: ``outbound`` for 837s, ``inbound`` for 999,
277CA, 277 and 835 files, ``archive`` for what was fetched).

sshd needs root (chroot, switching to the account's user). As another user the SFTP
server is skipped with a message. The account's user is ``rcm<port>`` (a system user
without a shell), so several stacks on one machine do not share one. The client side
(key, password, known_hosts pinning the host key) and the connector's accounts file
are written under ``.stack/sftp/client``.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

from rcm.stack_base import StackError, log, pid_alive, port_open, stop_pid
from runtime.settings import Settings

SSHD = Path("/usr/sbin/sshd")
FOLDERS = ("outbound", "inbound", "archive")


def sftp_dir(s: Settings) -> Path:
    return s.stack_dir / "sftp"


def user(s: Settings) -> str:
    return f"rcm{s.sftp_port}"


def server_dir(s: Settings) -> Path:
    """The server's side (host key, authorized key, the chroot). sshd refuses a chroot or
    an authorized_keys file any of whose parents is writable by others than root (a
    checkout under /tmp): then it lives under /var/lib/rcm-sftp, one folder per stack."""
    if chroot_safe(s.stack_dir):
        return sftp_dir(s)
    import hashlib

    digest = hashlib.sha256(str(s.stack_dir.resolve()).encode()).hexdigest()[:12]
    return Path("/var/lib/rcm-sftp") / digest


def mailbox(s: Settings) -> Path:
    """The chroot: root-owned; the account writes only in its folders inside."""
    return server_dir(s) / "chroot"


def forget_mailbox(s: Settings) -> int:
    """Removes the files of the local mailbox and of the clearinghouse's archive beside
    it: called when ``rcm stack up`` makes a new database, whose control numbers start
    again at 1, so an 837 left from the old one would make the clearinghouse refuse the
    new one that reuses its interchange number. Folders stay. Returns the files removed."""
    removed = 0
    for top in (mailbox(s), server_dir(s) / "clearinghouse"):
        if not top.is_dir():
            continue
        for path in top.rglob("*"):
            if path.is_file() or path.is_symlink():
                path.unlink()
                removed += 1
    return removed


def chroot_safe(path: Path) -> bool:
    """Is every existing folder from / down to ``path`` root's and not group- or
    world-writable (what sshd's ChrootDirectory demands)?"""
    path = path.resolve()
    for d in [*reversed(path.parents), path]:
        try:
            st = d.stat()
        except FileNotFoundError:
            break
        if st.st_uid != 0 or st.st_mode & 0o022:
            return False
    return True


def accounts_file(s: Settings) -> Path:
    return sftp_dir(s) / "client" / "accounts.json"


def host_key(s: Settings) -> Path:
    return server_dir(s) / "etc" / "ssh_host_ed25519_key"


def _run(*cmd: str) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise StackError(f"{cmd[0]} failed: {result.stderr.strip()[-400:]}")


def _install() -> None:
    if SSHD.exists():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise StackError("sshd not found: apt-get install openssh-server")
    log("installing OpenSSH's server from Debian's packages (once)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "openssh-server"]
    if subprocess.run(cmd, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=True)
        subprocess.run(cmd, env=env, capture_output=True, check=True)


def _keygen(path: Path, comment: str) -> None:
    _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path))


def _ensure_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    _run("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name)
    return pwd.getpwnam(name)


def _keys_and_files(s: Settings) -> None:
    """Once: the host key, the account's key and password, the chroot and its folders."""
    base, server = sftp_dir(s), server_dir(s)
    etc, client = server / "etc", base / "client"
    # outside the stack folder, /var/lib/rcm-sftp too
    ours = [base] if server == base else [base, server.parent, server]
    for d in (*ours, etc, client, mailbox(s)):
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(0o755 if d != client else 0o700)
    if not host_key(s).exists():
        _keygen(host_key(s), "rcm-stack")
    if not (client / "id_ed25519").exists():
        _keygen(client / "id_ed25519", user(s))
    pw = client / "password"
    if not pw.exists():
        pw.write_text(secrets.token_urlsafe(24) + "\n")
        pw.chmod(0o600)
    account = _ensure_user(user(s))
    subprocess.run(
        ["chpasswd"], input=f"{user(s)}:{pw.read_text().strip()}\n", text=True, check=True
    )
    (etc / "authorized_keys").write_text((client / "id_ed25519.pub").read_text())
    (etc / "authorized_keys").chmod(0o644)
    for folder in FOLDERS:
        d = mailbox(s) / folder
        d.mkdir(exist_ok=True)
        os.chown(d, account.pw_uid, account.pw_gid)
        d.chmod(0o750)
    pub = host_key(s).with_suffix(".pub").read_text().split()
    (client / "known_hosts").write_text(f"[127.0.0.1]:{s.sftp_port} {pub[0]} {pub[1]}\n")
    accounts_file(s).write_text(json.dumps([dev_account(s)], indent=2) + "\n")


def dev_account(s: Settings) -> dict[str, object]:
    """The connector's account for the local mailbox (key authentication)."""
    client = sftp_dir(s) / "client"
    return {
        "name": "local",
        "tenant": s.tenant,
        "host": "127.0.0.1",
        "port": s.sftp_port,
        "username": user(s),
        "key_file": str(client / "id_ed25519"),
        "known_hosts": str(client / "known_hosts"),
        "connect_timeout_s": 5,
        # one local mailbox for every tenant's 837s (the demo's, chaos's, the tests')
        "send_for": ["*"],
    }


def sshd_config(s: Settings) -> str:
    return sshd_config_text(
        port=s.sftp_port,
        listen="127.0.0.1",
        host_key=str(host_key(s)),
        pid_file=str(sftp_dir(s) / "sshd.pid"),
        authorized_keys=str(server_dir(s) / "etc" / "authorized_keys"),
        user=user(s),
        chroot=str(mailbox(s)),
        passwords=True,
    )


def sshd_config_text(
    *,
    port: int,
    listen: str,
    host_key: str,
    pid_file: str,
    authorized_keys: str,
    user: str,
    chroot: str,
    passwords: bool,
) -> str:
    """The one sshd_config of an SFTP-only mailbox account chrooted to ``chroot``: the
    local stack's (above) and the deploy sandboxes' (deploy/sftp/sshd_config, written by
    deploy/k8s/generate.py)."""
    return (
        f"Port {port}\n"
        f"ListenAddress {listen}\n"
        f"HostKey {host_key}\n"
        f"PidFile {pid_file}\n"
        f"AuthorizedKeysFile {authorized_keys}\n"
        "UsePAM no\n"
        f"PasswordAuthentication {'yes' if passwords else 'no'}\n"
        "KbdInteractiveAuthentication no\n"
        "PermitRootLogin no\n"
        f"AllowUsers {user}\n"
        "AllowTcpForwarding no\n"
        "AllowAgentForwarding no\n"
        "X11Forwarding no\n"
        "PermitTTY no\n"
        "LogLevel INFO\n"
        "Subsystem sftp internal-sftp\n"
        f"ChrootDirectory {chroot}\n"
        "ForceCommand internal-sftp\n"
    )


def sftp_up(s: Settings) -> None:
    if os.geteuid() != 0:
        log("SFTP server skipped: sshd needs root (chroot and the mailbox's own user)")
        return
    if pid_alive(sftp_dir(s) / "sshd.pid") and port_open(s.sftp_port):
        # running already: its accounts file as this checkout writes it
        accounts_file(s).write_text(json.dumps([dev_account(s)], indent=2) + "\n")
        return
    if port_open(s.sftp_port):
        raise StackError(f"port {s.sftp_port} is taken by another process; set RCM_SFTP_PORT")
    _install()
    _keys_and_files(s)
    conf = server_dir(s) / "etc" / "sshd_config"
    conf.write_text(sshd_config(s))
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation
    _run(str(SSHD), "-t", "-f", str(conf))
    log(f"starting the SFTP server (OpenSSH) on 127.0.0.1:{s.sftp_port}")
    _run(str(SSHD), "-f", str(conf), "-E", str(sftp_dir(s) / "sshd.log"))
    for _ in range(50):
        if port_open(s.sftp_port):
            return
        time.sleep(0.1)
    raise StackError(f"sshd did not listen on {s.sftp_port} (see {sftp_dir(s) / 'sshd.log'})")


def sftp_down(s: Settings) -> None:
    """Stops the listener and the sessions it forked (OpenSSH leaves them running)."""
    pid = pid_alive(sftp_dir(s) / "sshd.pid")
    sessions = _children(pid) if pid else []
    stop_pid(sftp_dir(s) / "sshd.pid", "the SFTP server")
    for child in sessions:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGTERM)


def _children(pid: int) -> list[int]:
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append(int(d.name))
    return found


def sftp_status(s: Settings) -> dict[str, object]:
    pid = None
    with contextlib.suppress(OSError):
        pid = pid_alive(sftp_dir(s) / "sshd.pid")
    return {
        "running": port_open(s.sftp_port),
        "pid": pid,
        "address": f"sftp://{user(s)}@127.0.0.1:{s.sftp_port}",
        "data": str(mailbox(s)),
        "accounts_file": str(accounts_file(s)),
    }
