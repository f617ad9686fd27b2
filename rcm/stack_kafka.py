"""The local Apache Kafka broker (KRaft, single node): its jars from Maven Central
(deploy/local/kafka/pom.xml), its storage, its process and the pipeline's topics."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import shutil
import subprocess
import time
import uuid

from rcm import stack_kafka_auth as kafka_auth
from rcm.stack_base import Paths, StackError, log, pid_alive, port_open
from runtime.settings import REPO_ROOT, Settings

KAFKA_DEPLOY = REPO_ROOT / "deploy" / "local" / "kafka"


def fetch_kafka(p: Paths) -> None:
    if any(p.kafka_libs.glob("kafka_2.13-*.jar")):
        return
    mvn = shutil.which("mvn")
    if not mvn:
        raise StackError("Maven (mvn) is needed once to fetch Kafka's jars: apt-get install maven")
    log("fetching Apache Kafka jars from Maven Central (once)")
    tmp = p.kafka / "libs.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(KAFKA_DEPLOY / "pom.xml"),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={tmp}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(
            f"mvn could not fetch Kafka: {result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    shutil.rmtree(p.kafka_libs, ignore_errors=True)
    tmp.rename(p.kafka_libs)


def kafka_cmd(p: Paths, *args: str, heap: str = "256m") -> list[str]:
    java = shutil.which("java")
    if not java:
        raise StackError("Java 17+ is needed for Kafka: apt-get install openjdk-17-jre-headless")
    return [
        java,
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={KAFKA_DEPLOY / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={p.kafka}",
        "-cp",
        str(p.kafka_libs / "*"),
        *args,
    ]


def _cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, base64url; never starting with '-', which the
    storage tool would read as an option."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if cid[0] != "-":
            return cid


def kafka_up(s: Settings, p: Paths) -> None:
    formatted = (p.kafka_data / "meta.properties").exists()
    if s.kafka_auth and formatted and not (p.kafka / "scram-users").exists():
        raise StackError(
            f"Kafka auth needs a broker formatted with its users: `rcm stack down`, remove"
            f" {p.kafka_data} and `rcm stack up --kafka-auth` again"
        )
    if pid_alive(p.kafka_pid) and port_open(s.kafka_port):
        return
    if port_open(s.kafka_port):
        raise StackError(f"port {s.kafka_port} is taken by another process; set RCM_KAFKA_PORT")
    fetch_kafka(p)
    props = p.kafka / "server.properties"
    text = (
        (KAFKA_DEPLOY / "server.properties.template")
        .read_text()
        .format(port=s.kafka_port, controller_port=s.kafka_controller_port, data_dir=p.kafka_data)
    )
    users = kafka_auth.passwords(s) if s.kafka_auth else {}
    if s.kafka_auth:
        text += kafka_auth.server_properties(s, users[kafka_auth.ADMIN])
    props.write_text(text)
    marker = p.kafka / "scram-users"
    if not formatted:
        cid = _cluster_id()
        p.kafka_data.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            kafka_cmd(
                p,
                "kafka.tools.StorageTool",
                *("format", "-t", cid, "-c", str(props)),
                *kafka_auth.format_args(users),
            ),
            check=True,
            capture_output=True,
        )
        if users:
            marker.write_text("\n".join(sorted(users)))
    log(f"starting Kafka on 127.0.0.1:{s.kafka_port}")
    out = (p.kafka / "stdout.log").open("ab")
    proc = subprocess.Popen(
        kafka_cmd(p, "kafka.Kafka", str(props), heap=s.kafka_heap),
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    p.kafka_pid.write_text(str(proc.pid))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(f"Kafka exited with {proc.returncode}; see {p.kafka / 'server.log'}")
        if port_open(s.kafka_port):
            return
        time.sleep(0.2)
    raise StackError(f"Kafka did not open port {s.kafka_port} in 90 s; see {p.kafka}")


async def ensure_topics(s: Settings) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from runtime.kafka import client_config
    from schemas.topics import TOPICS

    admin = AIOKafkaAdminClient(**client_config(s), request_timeout_ms=20000)
    deadline = time.monotonic() + 60
    while True:
        try:
            await admin.start()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
    try:
        rf = s.kafka_replication_factor
        wanted = [NewTopic(t.name, t.partitions, rf) for t in TOPICS]
        wanted += [NewTopic(t.dlq, 1, rf) for t in TOPICS]
        while True:
            existing = set(await admin.list_topics())
            missing = [t for t in wanted if t.name not in existing]
            if not missing:
                return
            with contextlib.suppress(Exception):
                await admin.create_topics(missing)
            if time.monotonic() > deadline:
                raise StackError(f"could not create topics {[t.name for t in missing]}")
            await asyncio.sleep(0.3)
    finally:
        await admin.close()
