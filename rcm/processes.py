"""Runs the services as separate processes on this machine (the demo, tests, benchmarks)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from rcm.cli_payers import DEMO_PAYERS
from rcm.stack_kafka_auth import service_kafka_env
from rcm.stack_roles import service_db_env
from rcm.stack_sftp import accounts_file as sftp_accounts_file
from rcm.stack_sftp import mailbox as sftp_mailbox
from runtime.settings import REPO_ROOT, Settings, settings

# name -> ops port; the order is the order they start in.
SERVICES: dict[str, int] = {
    "claims": 6103,
    "eligibility": 6101,
    "coding": 6102,
    "simulator": 6106,
    "remittance": 6104,
    "statements": 6105,
    "gateway": 6100,
    "reporting": 6107,
    "connector": 6109,
}


def default_services(s: Settings | None = None) -> list[str]:
    """The services a fleet starts when not told which: reporting only with
    RCM_FLEET_REPORTING=true (what it costs: docs/performance.md)."""
    with_reporting = (s or settings()).fleet_reporting
    return [name for name in SERVICES if name != "reporting" or with_reporting]


# One process each, however many instances the others run: the gateway, and reporting,
# whose web view serves the KPI tables of the partitions it holds.
SINGLE_INSTANCE = frozenset({"gateway", "reporting"})


#: The simulator's CAQH CORE endpoint (HTTPS, its own port: services/simulator/config.py).
SIMULATOR_CORE_PORT = 6156
DEFAULT_CLEARINGHOUSE_URL = f"https://127.0.0.1:{SIMULATOR_CORE_PORT}"


class ProcessError(RuntimeError):
    pass


@dataclass
class Fleet:
    """A set of running service processes, stopped together."""

    log_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, names: list[str] | None = None, instances: int = 1) -> None:
        """Starts each service; with ``instances`` > 1, that many of each (but
        SINGLE_INSTANCE) in one consumer group, named ``claims#1``, ``claims#2``... with ops ports +100 each."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in names or default_services():
            self.start_one(name)
            if name not in SINGLE_INSTANCE:
                for i in range(1, instances):
                    self.start_one(f"{name}#{i}")

    def start_one(self, name: str) -> None:
        service, _, instance = name.partition("#")
        port = self.port(name)
        if _port_taken(port):
            # Another process would answer this one's health checks.
            raise ProcessError(
                f"cannot start {name}: port {port} is taken (is another fleet running?"
                " `pkill -f 'python -m services.'` stops stray services)"
            )
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name.replace('#', '-')}.log").open("ab")
        env = {**os.environ, **self.env}
        # the service's own roles on the local stack (rcm/stack_roles.py), not the owner's
        env.update(service_db_env(settings(), env.get("RCM_DATABASE_URL", ""), service))
        env.update(service_kafka_env(settings(), service))  # RCM_KAFKA_AUTH=true
        if instance:
            env["RCM_HTTP_PORT_OFFSET"] = str(self.offset + 100 * int(instance))
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", f"services.{service}"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def offset(self) -> int:
        """What this fleet adds to every ops port (fleet_env: one stack per checkout)."""
        return int(self.env.get("RCM_HTTP_PORT_OFFSET", "0"))

    def port(self, name: str) -> int:
        service, _, instance = name.partition("#")
        return SERVICES[service] + self.offset + 100 * int(instance or 0)

    def wait_healthy(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.procs)
        while pending:
            for name in list(pending):
                proc = self.procs[name]
                if proc.poll() is not None:
                    raise ProcessError(
                        f"service {name} exited with {proc.returncode}; see {self.log_dir / name}.log"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    r = httpx.get(f"http://127.0.0.1:{self.port(name)}/healthz", timeout=1)
                    if r.status_code == 200:
                        pending.discard(name)
            if time.monotonic() > deadline:
                raise ProcessError(f"services not healthy after {timeout:.0f} s: {sorted(pending)}")
            time.sleep(0.3)

    def consumed(self, name: str, token: str) -> int:
        """Records this one process has consumed so far, from its own /metrics."""
        r = httpx.get(
            f"http://127.0.0.1:{self.port(name)}/metrics",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        r.raise_for_status()
        return int(
            sum(
                float(line.rsplit(" ", 1)[1])
                for line in r.text.splitlines()
                if line.startswith("rcm_messages_in_total{")
            )
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        proc.wait(timeout=30)

    def stop_one(self, name: str) -> None:
        """Stops one process gracefully: it leaves its consumer group at once."""
        self.kill(name, signal.SIGTERM)
        del self.procs[name]

    def stop(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def fleet_env(s: Settings) -> dict[str, str]:
    """The services' environment for this stack. With an ops port offset (several
    checkouts' stacks on one machine), the gateway's port, the clearinghouse (the
    simulator's) and reporting move with it, so no service answers or calls another
    checkout's."""
    env = {
        "RCM_KAFKA_BOOTSTRAP": s.kafka_bootstrap,
        "RCM_DATABASE_URL": s.database_url,
        # The local fleet (demo, bench, tests) runs with the repository's local secrets.
        "RCM_ENV": "dev",
        "PYTHONUNBUFFERED": "1",
    }
    # One payer list for the fleet: the demo directory the tenants import (claims) is
    # also coding's list of known payers and statements' Medicare/Medicaid (QMB) file.
    for name in ("RCM_CODING_PAYERS_FILE", "RCM_STATEMENTS_PAYERS_FILE"):
        if name not in os.environ:
            env[name] = str(DEMO_PAYERS)
    if s.clearinghouse_url == DEFAULT_CLEARINGHOUSE_URL:
        env.update(_simulator_core(s))
    # The connector works the stack's SFTP mailbox (rcm/stack_sftp.py): it uploads every
    # tenant's 837s there and polls the inbound folder often (a short local round trip).
    if "RCM_CONNECTOR_ACCOUNTS_FILE" not in os.environ:
        env["RCM_CONNECTOR_ACCOUNTS_FILE"] = str(sftp_accounts_file(s))
    env.setdefault("RCM_CONNECTOR_POLL_S", os.environ.get("RCM_CONNECTOR_POLL_S", "0.2"))
    # The simulated clearinghouse works the server's side of that mailbox (its own disk).
    if "RCM_SIMULATOR_MAILBOX_DIR" not in os.environ:
        env["RCM_SIMULATOR_MAILBOX_DIR"] = str(sftp_mailbox(s))
    if s.http_port_offset:
        env["RCM_HTTP_PORT_OFFSET"] = str(s.http_port_offset)
        env["RCM_GATEWAY_PORT"] = str(SERVICES["gateway"] + s.http_port_offset)
        reporting = SERVICES["reporting"] + s.http_port_offset
        env.setdefault("RCM_GATEWAY_REPORTING_URL", f"http://127.0.0.1:{reporting}")
        coding = SERVICES["coding"] + s.http_port_offset
        env.setdefault("RCM_GATEWAY_CODING_URL", f"http://127.0.0.1:{coding}")
    return env


def _simulator_core(s: Settings) -> dict[str, str]:
    """The simulator's CORE endpoint for this stack: HTTPS on its own port once
    ``rcm stack up`` made the certificates (<stack_dir>/core), else (an external stack,
    no local CA) the plain-HTTP fallback on its ops port (services/simulator/app.py)."""
    offset = s.http_port_offset
    if (s.stack_dir / "core" / "server.crt").exists():
        if not offset:
            return {}
        return {"RCM_CLEARINGHOUSE_URL": f"https://127.0.0.1:{SIMULATOR_CORE_PORT + offset}"}
    return {"RCM_CLEARINGHOUSE_URL": f"http://127.0.0.1:{SERVICES['simulator'] + offset}"}
