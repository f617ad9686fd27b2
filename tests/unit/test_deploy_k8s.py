"""The Kubernetes manifests in deploy/k8s: current with the code, valid, and wired as intended.

What is validated, offline:
- core kinds (Namespace, Secret, ConfigMap, Deployment, Service, PodDisruptionBudget)
  against the Kubernetes JSON schemas bundled by the kubernetes-validate package, in
  strict mode (an unknown field is an error);
- Strimzi, CloudNativePG and KEDA resources against the openAPIV3Schema of the
  operators' own CRDs (vendored in tests/fixtures/deploy/crds, see the README there),
  made strict the same way. CEL rules (x-kubernetes-validations) are not evaluated;
- KEDA kafka trigger metadata (a free-form map in the CRD) against the parameter names
  of KEDA 2.20's kafka scaler.
A resource whose kind has no schema here fails rather than passing unchecked.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

from schemas.topics import TOPICS

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
SANDBOX = K8S / "sandbox"
CRDS = REPO / "tests" / "fixtures" / "deploy" / "crds"
K8S_VERSION = "1.33"

KAFKA_SCALER_KEYS = {
    "bootstrapServers", "consumerGroup", "topic", "partitionLimitation", "lagThreshold",
    "activationLagThreshold", "offsetResetPolicy", "allowIdleConsumers",
    "excludePersistentLag", "scaleToZeroOnInvalidOffset", "limitToPartitionsWithLag",
    "ensureEvenDistributionOfPartitions", "version", "tls", "unsafeSsl", "sasl",
    "saslTokenProvider", "awsRegion",
}  # fmt: skip
KAFKA_SCALER_REQUIRED = {"bootstrapServers", "consumerGroup", "lagThreshold"}


@cache
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rcm_k8s_generate", K8S / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@cache
def services() -> tuple[Any, ...]:
    return tuple(generator().discover())


@cache
def manifests() -> tuple[tuple[str, dict[str, Any]], ...]:
    """Parsed once; tests that change a manifest work on a deep copy."""
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted([*K8S.glob("*.yaml"), *SANDBOX.glob("*.yaml")]):
        if path.name == "kustomization.yaml" or path.name.endswith("-patch.yaml"):
            continue  # patches are partial: tests/unit/test_deploy_k8s_sandbox.py merges them
        text = path.read_text()
        found += [(path.name, d) for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d]
    return tuple(found)


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [d for _, d in manifests() if d["kind"] == kind]


def one(kind: str, name: str) -> dict[str, Any]:
    [doc] = [d for d in by_kind(kind) if d["metadata"]["name"] == name]
    return doc


# --- validation --------------------------------------------------------------


def _strict(node: Any, *, in_properties: bool = False) -> Any:
    """Unknown fields become errors, as kubectl's strict field validation makes them."""
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    if in_properties:
        return {k: _strict(v) for k, v in node.items()}
    out = {k: _strict(v, in_properties=k == "properties") for k, v in node.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@cache
def crd_validator(api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
    group, _, version = api_version.partition("/")
    path = CRDS / f"{group}_{version}_{kind.lower()}.json"
    if not path.exists():
        return None
    schema = _strict(json.loads(path.read_text())["openAPIV3Schema"])
    return jsonschema.Draft4Validator(schema)


def errors(doc: dict[str, Any]) -> list[str]:
    api_version, kind = doc.get("apiVersion", ""), doc.get("kind", "")
    crd = crd_validator(api_version, kind)
    if crd is not None:
        found = [
            f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in crd.iter_errors(doc)
        ]
    elif "." in api_version.split("/")[0] and not api_version.endswith(".k8s.io/v1"):
        return [f"no schema for {kind} {api_version}"]
    else:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
            found = []
        except kubernetes_validate.ValidationError as e:
            found = [f"{'.'.join(map(str, e.path))}: {e.message}"]
        except kubernetes_validate.SchemaNotFoundError as e:
            found = [e.message]
    if kind == "ScaledObject":
        for trig in doc.get("spec", {}).get("triggers", []):
            if trig.get("type") != "kafka":
                continue
            keys = set(trig.get("metadata", {}))
            found += [f"kafka trigger: unknown parameter {k}" for k in keys - KAFKA_SCALER_KEYS]
            found += [f"kafka trigger: {k} missing" for k in KAFKA_SCALER_REQUIRED - keys]
    return found


def _ids() -> Iterator[Any]:
    for file, doc in manifests():
        yield pytest.param(doc, id=f"{file}:{doc['kind']}/{doc['metadata']['name']}")


@pytest.mark.parametrize("doc", list(_ids()))
def test_every_manifest_passes_its_schema(doc: dict[str, Any]) -> None:
    assert errors(doc) == []


def test_committed_manifests_match_the_generator() -> None:
    rendered = generator().render()
    committed = {p.relative_to(K8S).as_posix(): p.read_text() for p in K8S.rglob("*.yaml")}
    sshd = generator().SSHD_CONFIG  # the sandbox SFTP server's (deploy/sftp)
    committed[sshd] = (K8S / sshd).read_text()
    assert set(committed) == set(rendered), "run: .venv/bin/python deploy/k8s/generate.py"
    for name, text in rendered.items():
        assert committed[name] == text, (
            f"{name} drifted: run .venv/bin/python deploy/k8s/generate.py"
        )


def test_kustomization_lists_every_manifest_but_never_the_example_secrets() -> None:
    k = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    examples = {name for name in files if name.endswith(".example.yaml")}
    assert examples == {"10-secrets.example.yaml"}
    # Applied, the example would set every password to CHANGE-ME over the real Secrets.
    assert sorted(k["resources"]) == sorted(files - examples)
    applied = [doc for name, doc in manifests() if name in k["resources"]]
    assert not [d for d in applied if d["kind"] == "Secret"]
    assert "CHANGE-ME" not in "".join((K8S / name).read_text() for name in k["resources"])
    assert (
        (K8S / "10-secrets.example.yaml")
        .read_text()
        .startswith("# Documentation only, never a kustomization resource")
    )


# --- negative cases: the validation above can fail -----------------------------


def _mutated(kind: str, name: str, change: Any) -> dict[str, Any]:
    doc = copy.deepcopy(one(kind, name))
    change(doc)
    return doc


def _container(d: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = d["spec"]["template"]["spec"]["containers"][0]
    return container


BROKEN: list[tuple[str, str, str, Any]] = [
    ("Deployment", "rcm-claims", "replicas", lambda d: d["spec"].update(replicas="three")),
    ("Deployment", "rcm-claims", "livenessProbes",
     lambda d: _container(d).update(livenessProbes=_container(d)["livenessProbe"])),
    ("Deployment", "rcm-claims", "containerPort",
     lambda d: _container(d)["ports"][0].update(containerPort="http")),
    ("KafkaTopic", "claim.adjudicated", "partitions",
     lambda d: d["spec"].update(partitions=0)),
    ("KafkaTopic", "claim.adjudicated", "partiton", lambda d: d["spec"].update(partiton=6)),
    ("Kafka", "rcm-kafka", "scram-sha-256",
     lambda d: d["spec"]["kafka"]["listeners"][0]["authentication"].update(type="scram-sha-256")),
    ("KafkaUser", "rcm-claims", "operations",
     lambda d: d["spec"]["authorization"]["acls"][0].update(operations=["Consume"])),
    ("Cluster", "rcm-pg", "instances", lambda d: d["spec"].pop("instances")),
    ("ScaledObject", "rcm-claims", "triggers", lambda d: d["spec"].pop("triggers")),
    ("ScaledObject", "rcm-claims", "lagTreshold",
     lambda d: d["spec"]["triggers"][0]["metadata"].update(lagTreshold="10")),
    ("ScaledObject", "rcm-claims", "consumerGroup",
     lambda d: d["spec"]["triggers"][0]["metadata"].pop("consumerGroup")),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "name", "word", "change"), BROKEN, ids=[b[2] for b in BROKEN])
def test_a_broken_manifest_is_rejected(kind: str, name: str, word: str, change: Any) -> None:
    assert errors(one(kind, name)) == []
    found = errors(_mutated(kind, name, change))
    assert found, f"{kind}/{name} with a broken {word} passed"
    assert any(word in e for e in found), found


def test_a_kind_without_a_schema_is_rejected_not_skipped() -> None:
    doc = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert errors(doc) == ["no schema for Widget example.com/v1"]


# --- what the manifests say ----------------------------------------------------


def test_every_topic_has_a_kafka_topic_with_its_partitions_and_a_dead_letter_twin() -> None:
    topics = {d["spec"]["topicName"]: d["spec"] for d in by_kind("KafkaTopic")}
    for t in TOPICS:
        assert topics[t.name]["partitions"] == t.partitions
        assert topics[t.dlq]["partitions"] >= 1
        assert topics[t.name]["replicas"] == 3
        assert topics[t.name]["config"]["min.insync.replicas"] == 2
    # Every topic a service reads or writes is created up front: auto-creation is off.
    kafka = one("Kafka", "rcm-kafka")
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False
    for svc in services():
        assert set(svc.consumes) <= set(topics)


def test_each_service_has_probes_resources_and_secrets() -> None:
    found = services()
    assert {s.name for s in found} >= {"claims", "remittance", "statements"}
    for svc in found:
        dep = one("Deployment", f"rcm-{svc.name}")
        c = _container(dep)
        assert c["command"] == ["python", "-m", f"services.{svc.name}"]
        assert c["ports"][0]["containerPort"] == svc.port
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert c[probe]["httpGet"] == {"path": "/healthz", "port": "ops"}
        assert c["resources"]["requests"]["cpu"]
        assert c["resources"]["limits"]["memory"]
        env = {e["name"]: e for e in c["env"]}
        # its own database roles: the runtime role, and the owner its migrations run as
        for var in ("RCM_DATABASE_URL", "RCM_DATABASE_MIGRATE_URL"):
            ref = env[var]["valueFrom"]["secretKeyRef"]
            assert (ref["name"], ref["key"]) == (f"rcm-db-{svc.name}", var)
        roles = one("Secret", f"rcm-db-{svc.name}")["stringData"]
        assert urlsplit(roles["RCM_DATABASE_URL"]).username == f"rcm_{svc.name}"
        assert urlsplit(roles["RCM_DATABASE_MIGRATE_URL"]).username == f"rcm_{svc.name}_owner"
        assert env["RCM_OPS_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "rcm-app"
        assert env["RCM_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == svc.group
        assert not any("value" in e for n, e in env.items() if "PASSWORD" in n or "TOKEN" in n)
        assert one("KafkaUser", svc.group)["spec"]["authentication"]["type"] == "scram-sha-512"


def test_each_consumer_group_scales_on_the_lag_of_every_topic_it_consumes() -> None:
    partitions = {t.name: t.partitions for t in TOPICS}
    # the sandbox's simulator is one pod holding its mailbox (test_deploy_k8s_sandbox.py)
    for svc in (s for s in services() if s.name != "simulator"):
        so = one("ScaledObject", f"rcm-{svc.name}")["spec"]
        assert so["scaleTargetRef"]["name"] == f"rcm-{svc.name}"
        meta = [t["metadata"] for t in so["triggers"]]
        assert sorted(m["topic"] for m in meta) == sorted(svc.consumes)
        assert {m["consumerGroup"] for m in meta} == {svc.group}
        assert all(int(m["lagThreshold"]) > 0 for m in meta)
        # Never more instances than partitions: the extra ones would sit idle.
        assert 1 <= so["minReplicaCount"] <= so["maxReplicaCount"]
        assert so["maxReplicaCount"] <= max(partitions[t] for t in svc.consumes)


def test_services_use_kafka_over_tls_with_scram_and_postgres_with_tls() -> None:
    cfg = one("ConfigMap", "rcm-config")["data"]
    assert cfg["RCM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert cfg["RCM_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    listener = one("Kafka", "rcm-kafka")["spec"]["kafka"]["listeners"][0]
    assert listener["tls"] is True
    assert listener["authentication"]["type"] == "scram-sha-512"
    assert cfg["RCM_KAFKA_BOOTSTRAP"] == f"rcm-kafka-kafka-bootstrap:{listener['port']}"
    for dep in by_kind("Deployment"):
        mounts = {m["mountPath"]: m["name"] for m in _container(dep)["volumeMounts"]}
        volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
        ca_dir = str(Path(cfg["RCM_KAFKA_SSL_CAFILE"]).parent)
        assert volumes[mounts[ca_dir]]["secret"]["secretName"] == "rcm-kafka-cluster-ca-cert"
    dsn = one("Secret", "rcm-db-claims")["stringData"]["RCM_DATABASE_URL"]
    query = parse_qs(urlsplit(dsn).query)
    assert query["sslmode"] in (["require"], ["verify-ca"], ["verify-full"])
    hba = one("Cluster", "rcm-pg")["spec"]["postgresql"]["pg_hba"]
    assert hba[0].startswith("hostnossl all all")
    assert hba[0].endswith("reject")
    auth = one("TriggerAuthentication", "rcm-kafka-lag")["spec"]["secretTargetRef"]
    assert {a["parameter"] for a in auth} == {"username", "password", "ca"}


# --- reporting: a faust worker, one pod, least privilege -----------------------

REPORTING_SOURCES = ("claim.submitted", "claim.acknowledged", "claim.adjudicated")


def test_reporting_runs_as_exactly_one_pod_that_never_scales() -> None:
    dep = one("Deployment", "rcm-reporting")
    assert dep["spec"]["replicas"] == 1
    # A rollout stops the old pod before the new one starts: never two in the group.
    assert dep["spec"]["strategy"] == {"type": "Recreate"}
    targets = {so["spec"]["scaleTargetRef"]["name"] for so in by_kind("ScaledObject")}
    assert "rcm-reporting" not in targets
    assert not by_kind("HorizontalPodAutoscaler")
    c = _container(dep)
    assert c["command"] == ["python", "-m", "services.reporting"]
    assert c["ports"][0]["containerPort"] == 6107
    [port] = one("Service", "rcm-reporting")["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (6107, "ops")


def test_reporting_gets_kafka_credentials_and_ca_but_no_database() -> None:
    dep = one("Deployment", "rcm-reporting")
    c = _container(dep)
    env = {e["name"]: e for e in c["env"]}
    assert env["RCM_KAFKA_SASL_USERNAME"]["value"] == "rcm-reporting"
    assert env["RCM_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "rcm-reporting"
    assert env["RCM_OPS_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "rcm-app"
    assert env["RCM_REPORTING_APP_ID"]["value"] == "rcm-reporting"  # what its ACLs are for
    assert "RCM_DATABASE_URL" not in env
    volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    secrets = {v["secret"]["secretName"] for v in volumes.values() if "secret" in v}
    assert secrets == {"rcm-kafka-cluster-ca-cert"}
    cfg = one("ConfigMap", "rcm-config")["data"]
    # Its changelog topics get the replication the topics in 21-topics.yaml have.
    assert cfg["RCM_KAFKA_REPLICATION_FACTOR"] == "3"
    # The gateway reads it through its Service.
    assert cfg["RCM_GATEWAY_REPORTING_URL"] == "http://rcm-reporting:6107"


def _acls(user: str) -> dict[tuple[str, str, str], set[str]]:
    acls = one("KafkaUser", user)["spec"]["authorization"]["acls"]
    out: dict[tuple[str, str, str], set[str]] = {}
    for a in acls:
        r = a["resource"]
        key = (r["type"], r.get("name", ""), r.get("patternType", "literal"))
        assert key not in out, f"{key} listed twice"
        out[key] = set(a["operations"])
    return out


def test_reporting_kafka_user_has_least_privilege_acls() -> None:
    user = one("KafkaUser", "rcm-reporting")
    assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    expected = {
        ("group", "rcm-reporting", "literal"): {"Read", "Describe"},
        ("topic", "rcm-reporting-", "prefix"): {"Read", "Write", "Create", "Describe"},
    }
    for t in REPORTING_SOURCES:
        expected[("topic", t, "literal")] = {"Read", "Describe"}
        expected[("topic", f"{t}.dlq", "literal")] = {"Write", "Describe"}
    assert _acls("rcm-reporting") == expected
    # The runtime services keep their own users; reporting borrows none of them.
    assert "rcm-reporting" not in {s.group for s in services()}


def test_every_name_faust_uses_falls_under_the_reporting_acls() -> None:
    from runtime.settings import Settings
    from services.reporting.app import build
    from services.reporting.config import ReportingSettings

    app = build(Settings(), ReportingSettings(app_id="rcm-reporting"))
    acls = _acls("rcm-reporting")
    topic_prefixes = [n for (k, n, p) in acls if k == "topic" and p == "prefix"]
    made = [t.changelog_topic.get_topic_name() for t in app.tables.values()]
    made.append(app._leader_assignor._leader_topic_name)  # type: ignore[attr-defined]
    assert len(made) == 4
    for name in made:
        assert any(name.startswith(p) for p in topic_prefixes), name
    assert not app.in_transaction  # no transactional ids to grant
    assert ("group", app.conf.id, "literal") in acls
    sources = {
        n for (k, n, p) in acls if k == "topic" and p == "literal" and "Read" in acls[k, n, p]
    }
    assert sources == set(ReportingSettings().source_topics) == set(REPORTING_SOURCES)


def test_the_base_is_the_production_profile_without_the_simulator() -> None:
    from runtime.settings import Settings, production_problems

    base = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    in_base = [d for name, d in manifests() if name in base]
    assert not [d for d in in_base if d["metadata"]["name"] == "rcm-simulator"]
    assert not [d for d in in_base if "simulator" in d["metadata"]["name"]]
    config = one("ConfigMap", "rcm-config")["data"]
    assert (config["RCM_ENV"], config["RCM_X12_USAGE"]) == ("production", "P")
    assert "RCM_CLAIMS_SECONDS_PER_PAYER_DAY" not in config  # a payer day is a real day
    # With the operator's own secrets and TLS, the one thing refused is the placeholder
    # clearinghouse endpoint, until they set theirs.
    sound = {k.removeprefix("RCM_").lower(): v for k, v in config.items()}
    secret = "a-long-random-secret-value"
    s = Settings(
        **{k: v for k, v in sound.items() if k != "env"},
        ops_token=secret,
        clearinghouse_token=secret,
        statement_link_key=secret,
        audit_key=secret,
        database_url="postgresql://rcm_claims:Zq8-long-random@rcm-pg-rw/rcm?sslmode=verify-full",
        database_migrate_url="postgresql://rcm_claims_owner:Zq8-long@rcm-pg-rw/rcm"
        "?sslmode=verify-full",
    )
    assert [p.split()[0] for p in production_problems(s)] == ["RCM_CLEARINGHOUSE_URL"]
    assert "placeholder" in production_problems(s)[0]


def test_the_sandbox_overlay_adds_the_simulator_and_leaves_production() -> None:
    k = yaml.safe_load((SANDBOX / "kustomization.yaml").read_text())
    assert k["resources"] == ["..", "simulator.yaml", "mailbox.yaml"]
    sim = [d for name, d in manifests() if name == "simulator.yaml"]
    assert {d["kind"] for d in sim} == {
        "KafkaUser", "Deployment", "Service", "PodDisruptionBudget"
    }  # fmt: skip
    patch = yaml.safe_load((SANDBOX / "config-patch.yaml").read_text())
    assert [p["path"] for p in k["patches"]] == ["config-patch.yaml", "connector-patch.yaml"]
    assert patch["data"] == {
        "RCM_ENV": "dev",
        "RCM_CLEARINGHOUSE_URL": "http://rcm-simulator:6106",
        "RCM_X12_USAGE": "T",
    }


def test_the_gateway_is_deployed_behind_tls_with_probes_resources_and_its_secrets() -> None:
    dep = one("Deployment", "rcm-gateway")
    assert dep["spec"]["replicas"] >= 2
    c = _container(dep)
    assert c["command"] == ["python", "-m", "services.gateway"]
    port = c["ports"][0]["containerPort"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": "ops"}
    assert c["resources"]["requests"]["cpu"]
    assert c["resources"]["limits"]["memory"]
    env = {e["name"]: e for e in c["env"]}
    for name, secret in [
        ("RCM_AUDIT_KEY", "rcm-app"),
        ("RCM_STATEMENT_LINK_KEY", "rcm-app"),
        ("RCM_DATABASE_URL", "rcm-db-gateway"),
        ("RCM_DATABASE_MIGRATE_URL", "rcm-db-gateway"),
        ("RCM_KAFKA_SASL_PASSWORD", "rcm-gateway"),
    ]:
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == secret, name
    assert "RCM_AUDIT_KEY" in one("Secret", "rcm-app")["stringData"]
    # The signed audit checkpoints outlive the pods: a claimed volume, not an emptyDir.
    mount = next(
        m for m in c["volumeMounts"] if m["mountPath"] == env["RCM_AUDIT_CHECKPOINT_DIR"]["value"]
    )
    volume = next(
        v for v in dep["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]
    )
    claim = volume["persistentVolumeClaim"]["claimName"]
    assert one("PersistentVolumeClaim", claim)["spec"]["accessModes"] == ["ReadWriteMany"]
    svc = one("Service", "rcm-gateway")
    assert svc["spec"]["ports"][0]["port"] == port
    ing = one("Ingress", "rcm-gateway")["spec"]
    [tls] = ing["tls"]
    [rule] = ing["rules"]
    assert tls["secretName"]
    assert rule["host"] in tls["hosts"]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "rcm-gateway"
    assert backend["port"]["name"] == svc["spec"]["ports"][0]["name"]
    assert (
        "45-gateway.yaml" in yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    )
