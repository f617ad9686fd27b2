"""deploy/compose: a valid Compose file that runs every service and watches lag and the funnel.

Validity: `docker compose config` where the Compose plugin is installed, and always the
Compose Specification JSON schema (vendored in tests/fixtures/deploy, see its README).
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
import yaml

from runtime import pgroles
from services.claims.saga import State

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO / "deploy" / "compose"
COMPOSE = COMPOSE_DIR / "compose.yaml"
SPEC = REPO / "tests" / "fixtures" / "deploy" / "compose-spec.json"
PROMETHEUS = REPO / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA = REPO / "deploy" / "grafana"
SFTP = REPO / "deploy" / "sftp"
# The runtime services: each serves /metrics, so Prometheus scrapes every instance.
SERVICES = {
    "eligibility": 6101,
    "coding": 6102,
    "claims": 6103,
    "remittance": 6104,
    "statements": 6105,
    "simulator": 6106,
    "connector": 6109,
}
# The faust worker (services/reporting): one instance, no PostgreSQL, no /metrics.
REPORTING_PORT = 6107


@functools.cache
def compose_plugin() -> bool:
    docker = shutil.which("docker")
    if not docker:
        return False
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
    return probe.returncode == 0


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return doc


def schema_errors(doc: Any) -> list[str]:
    validator = jsonschema.Draft7Validator(json.loads(SPEC.read_text()))
    return [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)
    ]


# What deploy/compose/new-secrets.sh writes; compose.yaml has no fallback for any of them.
SECRETS = (
    "POSTGRES_PASSWORD",
    "RCM_OPS_TOKEN",
    "RCM_CLEARINGHOUSE_TOKEN",
    "RCM_STATEMENT_LINK_KEY",
    "RCM_AUDIT_KEY",
    "GRAFANA_ADMIN_PASSWORD",
    # one per PostgreSQL role (tests/unit/test_deploy_compose_roles.py)
    *(f"PG_{role.upper()}_PASSWORD" for role in pgroles.all_roles()),
)


def docker_config_errors(path: Path, secrets: bool = True) -> str:
    assert shutil.which("docker")
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    if secrets:
        env.update({name: f"test-{name.lower()}-value" for name in SECRETS})
    result = subprocess.run(
        ["docker", "compose", "-f", str(path), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    return result.stderr if result.returncode else ""


def test_compose_file_is_valid() -> None:
    assert schema_errors(compose()) == []
    if compose_plugin():
        assert docker_config_errors(COMPOSE) == ""


def test_no_secret_has_a_fallback_value_so_compose_asks_for_each() -> None:
    text = COMPOSE.read_text()
    for name in SECRETS:
        assert f"${{{name}:-" not in text, f"{name} falls back to a default"
        assert f"${{{name}:?" in text, f"{name} is not required"
    assert "local-ops-token" not in text
    assert "admin}" not in text
    if compose_plugin():
        refused = docker_config_errors(COMPOSE, secrets=False)
        assert "POSTGRES_PASSWORD" in refused or "RCM_OPS_TOKEN" in refused, refused


def test_new_secrets_writes_random_values_readable_by_the_user_only(tmp_path: Path) -> None:
    (tmp_path / "sftp").mkdir()  # the layout of deploy/: it runs ../sftp/new-keys.sh
    (tmp_path / "sftp" / "new-keys.sh").write_bytes((SFTP / "new-keys.sh").read_bytes())
    tmp_path = tmp_path / "compose"
    tmp_path.mkdir()
    script = tmp_path / "new-secrets.sh"
    script.write_bytes((COMPOSE_DIR / "new-secrets.sh").read_bytes())
    subprocess.run(["sh", str(script)], check=True, capture_output=True)
    env = tmp_path / ".env"
    assert env.stat().st_mode & 0o777 == 0o600
    values = dict(line.split("=", 1) for line in env.read_text().splitlines())
    assert sorted(values) == sorted(SECRETS)
    assert all(len(v) == 48 for v in values.values())
    assert len(set(values.values())) == len(SECRETS)
    first = env.read_text()
    conn = tmp_path / "connector"
    assert orjson.loads((conn / "accounts.json").read_bytes()) == []  # the connector idles
    assert (conn / "known_hosts").read_text() == ""  # no host key trusted until you add it
    if shutil.which("ssh-keygen"):
        assert (conn / "id_ed25519").read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY")
    for f in conn.iterdir():
        assert f.stat().st_mode & 0o077 == 0, f"{f.name} is readable by others"
    sandbox = tmp_path / "sandbox"  # the sandbox profile's: each side pins the other
    if shutil.which("ssh-keygen"):
        host_pub = (sandbox / "ssh_host_ed25519_key.pub").read_text().split()[:2]
        assert (sandbox / "known_hosts").read_text().split() == ["[sftp]:2222", *host_pub]
        client_pub = (sandbox / "id_ed25519.pub").read_text()
        assert (sandbox / "authorized_keys").read_text() == client_pub
        assert all(f.stat().st_mode & 0o077 == 0 for f in sandbox.iterdir())
        sandbox_key = (sandbox / "id_ed25519").read_text()
    (conn / "accounts.json").write_text('[{"name": "mine"}]')
    subprocess.run(["sh", str(script)], check=True, capture_output=True)
    assert env.read_text() == first  # never overwrites what a stack already uses
    assert (conn / "accounts.json").read_text() == '[{"name": "mine"}]'
    if shutil.which("ssh-keygen"):
        assert (sandbox / "id_ed25519").read_text() == sandbox_key  # kept, not replaced


def test_the_connector_reads_its_accounts_and_keys_from_compose_secrets() -> None:
    doc = compose()
    svc = doc["services"]["connector"]
    assert "profiles" not in svc  # production runs it: claims' 837s go through it
    assert svc["environment"]["RCM_CONNECTOR_ACCOUNTS_FILE"] == "/run/secrets/connector_accounts"
    assert svc["secrets"] == ["connector_accounts", "connector_key", "connector_known_hosts"]
    files = {name: doc["secrets"][name]["file"] for name in svc["secrets"]}
    # ./connector unless RCM_CONNECTOR_SECRETS names another folder (the sandbox's)
    assert files == {
        "connector_accounts": "${RCM_CONNECTOR_SECRETS:-./connector}/accounts.json",
        "connector_key": "${RCM_CONNECTOR_SECRETS:-./connector}/id_ed25519",
        "connector_known_hosts": "${RCM_CONNECTOR_SECRETS:-./connector}/known_hosts",
    }
    ignored = (COMPOSE_DIR / ".gitignore").read_text().split()
    assert "connector/" in ignored  # the key never lands in git


BROKEN = {
    "unknown top-level key": lambda d: d.update(servces=d.pop("services")),
    "bad depends_on condition": lambda d: d["services"]["claims"]["depends_on"]["topics"].update(
        condition="service_ready"
    ),
    "ports as a mapping": lambda d: d["services"]["grafana"].update(ports={"3000": 3000}),
    "misspelt service key": lambda d: d["services"]["claims"].update(
        comand=d["services"]["claims"].pop("command")
    ),
}


@pytest.mark.parametrize("what", list(BROKEN))
def test_a_broken_compose_file_is_rejected(what: str, tmp_path: Path) -> None:
    doc = copy.deepcopy(compose())
    BROKEN[what](doc)
    assert schema_errors(doc), f"{what} passed the schema"
    if compose_plugin():
        broken = tmp_path / "compose.yaml"
        broken.write_text(yaml.safe_dump(doc))
        assert docker_config_errors(broken), f"{what} passed docker compose config"


def test_every_service_runs_from_the_one_image_with_its_own_command() -> None:
    services = compose()["services"]
    image = services["topics"]["image"]
    assert services["topics"]["build"]["dockerfile"] == "deploy/docker/Dockerfile"
    assert (
        COMPOSE_DIR / services["topics"]["build"]["context"] / "deploy/docker/Dockerfile"
    ).exists()
    for name, port in SERVICES.items():
        svc = services[name]
        assert svc["image"] == image
        assert svc["command"] == ["python", "-m", f"services.{name}"]
        assert f"http://127.0.0.1:{port}/healthz" in " ".join(svc["healthcheck"]["test"])
        assert svc["depends_on"]["topics"]["condition"] == "service_completed_successfully"
        assert svc["environment"]["RCM_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert svc["environment"]["RCM_DATABASE_URL"].endswith("@postgres:5432/rcm")
        # No host ports: `--scale NAME=3` must not collide.
        assert "ports" not in svc
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


def test_reporting_runs_once_from_the_one_image_without_postgres() -> None:
    services = compose()["services"]
    svc = services["reporting"]
    assert svc["image"] == services["topics"]["image"]
    assert svc["command"] == ["python", "-m", "services.reporting"]
    healthz = f"http://127.0.0.1:{REPORTING_PORT}/healthz"
    assert healthz in " ".join(svc["healthcheck"]["test"])
    assert svc["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert "postgres" not in svc["depends_on"]
    assert svc["environment"]["RCM_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert "ports" not in svc
    # One instance: a fixed container name makes `--scale reporting=2` fail.
    assert svc["container_name"]


def test_the_gateway_is_pointed_at_the_reporting_service() -> None:
    services = compose()["services"]
    url = f"http://reporting:{REPORTING_PORT}"
    for name in [*SERVICES, "reporting", "topics", "gateway"]:
        assert services[name]["environment"]["RCM_GATEWAY_REPORTING_URL"] == url


def test_the_gateway_serves_on_loopback_with_its_audit_key_and_checkpoint_volume() -> None:
    gw = compose()["services"]["gateway"]
    assert gw["command"] == ["python", "-m", "services.gateway"]
    assert gw["image"] == compose()["services"]["topics"]["image"]
    assert gw["ports"] == ["127.0.0.1:6100:6100"]  # no one else reaches plain http
    assert "http://127.0.0.1:6100/healthz" in " ".join(gw["healthcheck"]["test"])
    env = gw["environment"]
    assert env["RCM_AUDIT_KEY"].startswith("${RCM_AUDIT_KEY:?")
    assert env["RCM_DATABASE_URL"].endswith("@postgres:5432/rcm")
    assert gw["volumes"] == [f"audit-checkpoints:{env['RCM_AUDIT_CHECKPOINT_DIR']}"]


def test_prometheus_scrapes_every_instance_with_the_ops_token_and_the_lag_exporter() -> None:
    doc = compose()
    prom = yaml.safe_load(PROMETHEUS.read_text())
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    rcm = jobs["rcm-services"]
    found = {c["names"][0]: c["port"] for c in rcm["dns_sd_configs"]}
    assert found == SERVICES
    token_file = rcm["authorization"]["credentials_file"]
    mounted = {c["target"]: c["source"] for c in doc["services"]["prometheus"]["configs"]}
    token = doc["configs"][mounted[token_file]]["content"]
    assert token == doc["services"]["claims"]["environment"]["RCM_OPS_TOKEN"]
    [target] = jobs["kafka-lag"]["static_configs"][0]["targets"]
    assert target.split(":")[0] in doc["services"]


def test_every_file_the_compose_file_mounts_exists() -> None:
    for name, svc in compose()["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE_DIR / source).exists(), f"{name} mounts missing {source}"


def _dashboard() -> dict[str, Any]:
    [path] = (GRAFANA / "dashboards").glob("*.json")
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def test_dashboard_shows_lag_per_group_and_topic_and_the_saga_funnel() -> None:
    panels = {p["title"]: p for p in _dashboard()["panels"]}
    lag = panels["Consumer lag by group and topic"]["targets"][0]["expr"]
    assert "kafka_consumergroup_lag" in lag
    assert re.search(r"by \(consumergroup, topic\)", lag)
    funnel = panels["Saga funnel: claims per state"]["targets"][0]["rawSql"]
    assert "FROM unnest(ARRAY[" in funnel
    assert "claims.claim_v1" in funnel  # a view, the one Grafana's role may read
    listed = re.findall(r"'([A-Z_]+)'", funnel)
    assert listed == [s.value for s in State], "every saga state, in funnel order"


def test_dashboard_datasources_are_provisioned() -> None:
    provisioned = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "datasources.yaml").read_text()
    )
    uids = {d["uid"] for d in provisioned["datasources"]}
    used = {t["datasource"]["uid"] for p in _dashboard()["panels"] for t in p["targets"]}
    assert used <= uids
    assert {"rcm-prometheus", "rcm-postgres"} <= used


def test_the_default_is_the_production_profile_and_the_simulator_is_sandbox_only() -> None:
    services = compose()["services"]
    sandbox = ("simulator", "sftp", "sftp-mailbox")  # the simulator and its mailbox server
    assert all(services[name]["profiles"] == ["sandbox"] for name in sandbox)
    assert not [n for n, svc in services.items() if n not in sandbox and "profiles" in svc]
    env = services["claims"]["environment"]
    assert env["RCM_X12_USAGE"] == "${RCM_X12_USAGE:-P}"
    assert env["RCM_CLAIMS_SECONDS_PER_PAYER_DAY"] == "${RCM_CLAIMS_SECONDS_PER_PAYER_DAY:-86400}"
    assert "simulator" not in env["RCM_CLEARINGHOUSE_URL"]
