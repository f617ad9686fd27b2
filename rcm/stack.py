"""The local stack: Apache Kafka (KRaft, single node) and PostgreSQL on loopback.

Kafka's jars come from Maven Central (deploy/local/kafka/pom.xml) and
PostgreSQL from Debian's packages; both are cached and kept under
``settings.stack_dir`` (git-ignored). ``up`` is idempotent, ``down`` leaves no
process behind, ``status`` says what runs where.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

from rcm import stack_kafka_auth as kafka_auth
from rcm.stack_base import (
    EC_KEY,
    Paths,
    StackError,
    log,
    openssl_in,
    pid_alive,
    port_open,
    stop_pid,
)
from rcm.stack_kafka import ensure_topics, kafka_up
from rcm.stack_roles import ensure_local_roles
from rcm.stack_sftp import forget_mailbox, sftp_down, sftp_status, sftp_up
from rcm.stack_tls import core_certificates
from runtime.settings import Settings

PG_USER = "postgres"


# --- PostgreSQL ------------------------------------------------------------


def pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    if not found:
        if os.geteuid() == 0 and shutil.which("apt-get"):
            log("installing PostgreSQL from Debian's packages (once)")
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            subprocess.run(["apt-get", "update", "-q"], check=True, env=env, capture_output=True)
            subprocess.run(
                ["apt-get", "install", "-y", "-q", "postgresql"],
                check=True,
                env=env,
                capture_output=True,
            )
            found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
        if not found:
            raise StackError("PostgreSQL server binaries not found: apt-get install postgresql")
    return Path(found[-1]).parent


def _version_key(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


def as_pg_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to the package's postgres user."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", PG_USER, "--", *cmd]


def pg_paths(s: Settings) -> Paths:
    """Where PostgreSQL's data lives; outside the repo when the postgres user cannot reach it."""
    p = Paths(s.stack_dir)
    if os.geteuid() != 0:
        return p
    probe = subprocess.run(as_pg_user(["test", "-x", str(s.stack_dir)]), check=False)
    if probe.returncode == 0:
        return p
    import hashlib

    digest = hashlib.sha256(str(s.stack_dir).encode()).hexdigest()[:12]
    return Paths(Path("/var/tmp") / f"rcm-stack-{digest}")


def pg_up(s: Settings) -> None:
    p = pg_paths(s)
    bindir = pg_bin()
    if port_open(s.pg_port) and (p.pg_data / "postmaster.pid").exists():
        pg_tls(p, bindir, running=True)
        return
    if port_open(s.pg_port):
        raise StackError(f"port {s.pg_port} is taken by another process; set RCM_PG_PORT")
    p.pg.mkdir(parents=True, exist_ok=True)
    p.pg_run.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        uid = pwd.getpwnam(PG_USER)
        for d in (p.pg, p.pg_run):
            os.chown(d, uid.pw_uid, uid.pw_gid)
    if not (p.pg_data / "PG_VERSION").exists():
        log("initialising PostgreSQL cluster")
        if forgot := forget_mailbox(s):  # the old database's files, numbered as the new one's
            log(f"a new database: {forgot} files of the old one's SFTP mailbox removed")
        subprocess.run(
            as_pg_user(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(p.pg_data),
                    "-U",
                    "rcm",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            capture_output=True,
        )
        conf = p.pg_data / "postgresql.conf"
        with conf.open("a") as f:
            f.write(
                "\n# rcm local stack\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {s.pg_port}\n"
                f"unix_socket_directories = '{p.pg_run}'\n"
                "max_connections = 300\n"
                "shared_buffers = 256MB\n"
                "wal_level = replica\n"
                "synchronous_commit = on\n"
                # After a checkpoint the first change to each page logs the whole page.
                # With the default 1 GB a long benchmark checkpointed about every 25 s
                # and three quarters of its WAL were such pages (docs/performance.md).
                "max_wal_size = 2GB\n"
                "checkpoint_timeout = 15min\n"
                "log_min_messages = warning\n"
            )
    pg_tls(p, bindir, running=False)
    log(f"starting PostgreSQL on 127.0.0.1:{s.pg_port}")
    result = subprocess.run(
        as_pg_user(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(p.pg_data),
                "-l",
                str(p.pg / "server.log"),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {s.pg_port}",
                "start",
            ]
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(
            f"PostgreSQL did not start: {result.stderr.strip()} (see {p.pg}/server.log)"
        )


PG_TLS_MARK = "# rcm local stack: TLS"


def pg_tls_dir(p: Paths) -> Path:
    """The local stack's PostgreSQL CA (ca.crt) and server key pair."""
    return p.pg / "tls"


def pg_tls(p: Paths, bindir: Path, *, running: bool) -> None:
    """TLS for the local PostgreSQL, plain connections still accepted.

    Once per cluster: a CA and a server certificate for 127.0.0.1/localhost
    (so ``sslmode=verify-full`` works against ``tls/ca.crt``), and ``ssl = on``
    appended to postgresql.conf. A running cluster is reloaded, not restarted.
    """
    tls = pg_tls_dir(p)
    if not (tls / "server.crt").exists():
        _make_pg_certificates(tls)
    conf = p.pg_data / "postgresql.conf"
    if PG_TLS_MARK in conf.read_text():
        return
    with conf.open("a") as f:
        f.write(
            f"\n{PG_TLS_MARK}\n"
            "ssl = on\n"
            f"ssl_cert_file = '{tls / 'server.crt'}'\n"
            f"ssl_key_file = '{tls / 'server.key'}'\n"
            f"ssl_ca_file = '{tls / 'ca.crt'}'\n"
            "ssl_min_protocol_version = 'TLSv1.2'\n"
        )
    if running:
        log("enabling TLS on the running PostgreSQL (reload)")
        subprocess.run(
            as_pg_user([str(bindir / "pg_ctl"), "-D", str(p.pg_data), "reload"]),
            check=True,
            capture_output=True,
        )
        time.sleep(0.5)


def _make_pg_certificates(tls: Path) -> None:
    tmp = tls.with_name("tls.partial")
    run = openssl_in(tmp, "PostgreSQL TLS")
    log("creating the local PostgreSQL CA and server certificate (once)")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    ec = EC_KEY
    run("req", "-x509", *ec, "-days", "3650", "-subj", "/CN=rcm local stack CA",
        "-keyout", "ca.key", "-out", "ca.crt")  # fmt: skip
    run("req", *ec, "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr")
    (tmp / "san.ext").write_text(
        "subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1\n"
        "basicConstraints = CA:FALSE\n"
        "keyUsage = digitalSignature, keyEncipherment\n"
        "extendedKeyUsage = serverAuth\n"
    )
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "3650", "-extfile", "san.ext", "-out", "server.crt")  # fmt: skip
    for name in ("ca.key", "server.key"):
        (tmp / name).chmod(0o600)
    if os.geteuid() == 0:
        uid = pwd.getpwnam(PG_USER)
        for path in (tmp, *tmp.iterdir()):
            os.chown(path, uid.pw_uid, uid.pw_gid)
    shutil.rmtree(tls, ignore_errors=True)
    tmp.rename(tls)


async def ensure_database(s: Settings) -> None:
    import asyncpg

    deadline = time.monotonic() + 30
    while True:
        try:
            conn = await asyncpg.connect(
                host="127.0.0.1", port=s.pg_port, user="rcm", database="postgres"
            )
            break
        except (OSError, asyncpg.PostgresError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = 'rcm'"):
            await conn.execute("CREATE DATABASE rcm")
    finally:
        await conn.close()


def pg_down(s: Settings) -> None:
    p = pg_paths(s)
    if not (p.pg_data / "postmaster.pid").exists():
        return
    log("stopping PostgreSQL")
    subprocess.run(
        as_pg_user([str(pg_bin() / "pg_ctl"), "-D", str(p.pg_data), "-m", "fast", "-w", "stop"]),
        capture_output=True,
        check=False,
    )


# --- the commands ----------------------------------------------------------


def up(s: Settings) -> float:
    """Starts whatever is not running and waits until healthy. Returns seconds taken."""
    t0 = time.monotonic()
    if not s.external_stack:
        s.stack_dir.mkdir(parents=True, exist_ok=True)
        p = Paths(s.stack_dir)
        p.kafka.mkdir(parents=True, exist_ok=True)
        pg_up(s)
        core_certificates(s.stack_dir, pg_tls_dir(pg_paths(s)))
        kafka_up(s, p)
        asyncio.run(ensure_database(s))
        sftp_up(s)
        asyncio.run(ensure_local_roles(s, pg_paths(s)))
    if s.kafka_auth:
        asyncio.run(ensure_topics(kafka_auth.admin(s)))
        granted = asyncio.run(kafka_auth.grant_all(s))
        log(f"Kafka: SASL/SCRAM on, {granted} ACLs from schemas/acls.py")
    else:
        asyncio.run(ensure_topics(s))
    return time.monotonic() - t0


def down(s: Settings) -> None:
    if s.external_stack:
        log("external stack configured: nothing to stop")
        return
    stop_pid(Paths(s.stack_dir).kafka_pid, "Kafka")
    pg_down(s)
    sftp_down(s)


def status(s: Settings) -> dict[str, dict[str, object]]:
    p = Paths(s.stack_dir)
    pgp = pg_paths(s)
    kafka_pid = pid_alive(p.kafka_pid)
    pg_pid = None
    with contextlib.suppress(FileNotFoundError, ValueError, PermissionError):
        pg_pid = int((pgp.pg_data / "postmaster.pid").read_text().splitlines()[0])
    return {
        "kafka": {
            "running": port_open(s.kafka_port),
            "pid": kafka_pid,
            "bootstrap": s.kafka_bootstrap,
            "data": str(p.kafka_data),
        },
        "postgresql": {
            "running": port_open(s.pg_port),
            "pid": pg_pid,
            "dsn": s.database_url,
            "data": str(pgp.pg_data),
        },
        "sftp": sftp_status(s),
    }
