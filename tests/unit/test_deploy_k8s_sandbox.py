"""deploy/k8s/sandbox: the simulator gets the clearinghouse mailbox it works.

The simulator's pod runs Debian's OpenSSH (deploy/sftp) beside it on one mailbox volume;
the connector, patched by the overlay, uploads there through the pod's Service; the
production base has none of it. Validated offline as tests/unit/test_deploy_k8s.py does
(its schemas, strict): no cluster is started.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from rcm.stack_sftp import sshd_config as stack_sshd_config
from runtime.settings import Settings
from services.connector.config import load_accounts
from tests.unit.test_deploy_k8s import K8S, SANDBOX, by_kind, errors, manifests, one

pytestmark = pytest.mark.unit

SSHD_CONFIG = K8S.parent / "sftp" / "sshd_config"
RCM_SFTP = K8S.parent / "sftp" / "rcm-sftp"


def directives(text: str) -> dict[str, str]:
    lines = [ln.split(None, 1) for ln in text.splitlines() if ln and not ln.startswith("#")]
    return {pair[0]: pair[1] for pair in lines}


def pod() -> dict[str, Any]:
    spec: dict[str, Any] = one("Deployment", "rcm-simulator")["spec"]["template"]["spec"]
    return spec


def containers() -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in [*pod()["containers"], *pod().get("initContainers", [])]}


def mounts(c: dict[str, Any]) -> dict[str, str]:
    """Volume name -> where the container sees it."""
    return {m["name"]: m["mountPath"] for m in c["volumeMounts"]}


def env(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c["env"]}


def test_the_simulator_and_the_sftp_server_share_the_mailbox_at_the_path_it_is_told() -> None:
    cs = containers()
    assert set(cs) == {"simulator", "sftp", "sftp-mailbox"}
    told = env(cs["simulator"])["RCM_SIMULATOR_MAILBOX_DIR"]
    served = directives(SSHD_CONFIG.read_text())["ChrootDirectory"]
    assert told == served  # the folders the account sees are the ones the simulator works
    volumes = {v["name"]: v for v in pod()["volumes"]}
    # one volume, mounted at the same place in the server, its preparation and the simulator
    [shared] = {n for n, path in mounts(cs["simulator"]).items() if told.startswith(path + "/")}
    for name in ("sftp", "sftp-mailbox"):
        assert mounts(cs[name])[shared] == mounts(cs["simulator"])[shared], name
    # the simulator keeps its own archive beside the account's folders: inside the volume
    assert PurePosixPath(told).parent == PurePosixPath(mounts(cs["simulator"])[shared])
    claim = volumes[shared]["persistentVolumeClaim"]["claimName"]
    assert one("PersistentVolumeClaim", claim)["spec"]["accessModes"] == ["ReadWriteOnce"]
    # one pod holds the volume and the server: never two mailboxes behind one Service
    dep = one("Deployment", "rcm-simulator")
    assert dep["spec"]["replicas"] == 1
    assert dep["spec"]["strategy"] == {"type": "Recreate"}
    targets = {so["spec"]["scaleTargetRef"]["name"] for so in by_kind("ScaledObject")}
    assert "rcm-simulator" not in targets


def test_sshd_runs_as_root_only_with_the_capabilities_it_needs() -> None:
    cs = containers()
    assert pod()["securityContext"]["runAsNonRoot"] is True  # the simulator is not root
    assert "runAsUser" not in cs["simulator"]["securityContext"]
    for name, allowed in [
        ("sftp", {"AUDIT_WRITE", "KILL", "SETGID", "SETUID", "SYS_CHROOT"}),
        ("sftp-mailbox", {"CHOWN", "DAC_OVERRIDE", "FOWNER"}),
    ]:
        sc = cs[name]["securityContext"]
        assert (sc["runAsUser"], sc["runAsNonRoot"]) == (0, False), name
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert set(sc["capabilities"]["add"]) == allowed, name
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert cs[name]["resources"]["limits"]["memory"]
        assert cs[name]["image"].startswith("rcm-sftp:")
    assert "NET_BIND_SERVICE" not in cs["sftp"]["securityContext"]["capabilities"]["add"]
    # what the Pod Security Standards' baseline level lets a pod add: the sandbox is
    # admitted where a namespace enforces baseline (restricted refuses any root container)
    baseline = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}  # fmt: skip
    for c in cs.values():
        assert set(c["securityContext"]["capabilities"].get("add", [])) <= baseline, c["name"]
        assert not c["securityContext"].get("privileged")
    [port] = cs["sftp"]["ports"]
    assert port["containerPort"] == int(directives(SSHD_CONFIG.read_text())["Port"]) > 1024
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert cs["sftp"][probe]["tcpSocket"] == {"port": port["name"]}


def test_the_host_key_and_the_authorized_key_come_from_a_secret() -> None:
    cs = containers()
    conf = directives(SSHD_CONFIG.read_text())
    volumes = {v["name"]: v for v in pod()["volumes"]}
    keys_dir = str(PurePosixPath(conf["HostKey"]).parent)
    assert str(PurePosixPath(conf["AuthorizedKeysFile"]).parent) == keys_dir
    [keys] = [n for n, path in mounts(cs["sftp"]).items() if path == keys_dir]
    assert volumes[keys]["emptyDir"]["medium"] == "Memory"  # copies never touch a disk
    assert mounts(cs["sftp-mailbox"])[keys] == keys_dir  # written by the init container
    [mount] = [m for m in cs["sftp"]["volumeMounts"] if m["name"] == keys]
    assert mount["readOnly"] is True
    script = RCM_SFTP.read_text()
    [secret_vol] = [n for n in mounts(cs["sftp-mailbox"]) if "secret" in volumes[n]]
    secret_dir = mounts(cs["sftp-mailbox"])[secret_vol]
    assert f"{secret_dir}/ssh_host_ed25519_key" in script
    assert f"{secret_dir}/authorized_keys" in script
    assert secret_vol not in mounts(cs["sftp"])  # the server holds only its copies
    name = volumes[secret_vol]["secret"]["secretName"]
    example = {d["metadata"]["name"]: d for d in by_kind("Secret")}[name]
    assert set(example["stringData"]) == {"ssh_host_ed25519_key", "authorized_keys"}


def _merged(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A strategic-merge patch of a Deployment's containers (by name), their env (by
    name), mounts (by path) and the pod's volumes (by name), as kustomize applies it."""
    out = copy.deepcopy(base)
    spec, pspec = out["spec"]["template"]["spec"], patch["spec"]["template"]["spec"]

    def merge(items: list[dict[str, Any]], new: list[dict[str, Any]], key: str) -> None:
        for item in new:
            same = [i for i in items if i[key] == item[key]]
            if same:
                same[0].update(item)
            else:
                items.append(item)

    for pc in pspec.get("containers", []):
        [c] = [c for c in spec["containers"] if c["name"] == pc["name"]]
        merge(c["env"], pc.get("env", []), "name")
        merge(c["volumeMounts"], pc.get("volumeMounts", []), "mountPath")
    merge(spec["volumes"], pspec.get("volumes", []), "name")
    return out


def test_the_connectors_sandbox_account_points_at_the_sftp_service(tmp_path: Path) -> None:
    base = one("Deployment", "rcm-connector")
    patch = yaml.safe_load((SANDBOX / "connector-patch.yaml").read_text())
    assert (patch["metadata"]["name"], patch["metadata"]["namespace"]) == (
        base["metadata"]["name"], base["metadata"]["namespace"],
    )  # fmt: skip
    dep = _merged(base, patch)
    assert errors(dep) == []
    [c] = dep["spec"]["template"]["spec"]["containers"]
    accounts_file = PurePosixPath(env(c)["RCM_CONNECTOR_ACCOUNTS_FILE"])
    folder = str(accounts_file.parent)
    [vol_name] = [n for n, path in mounts(c).items() if path == folder]
    volume = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}[vol_name]
    sources = volume["projected"]["sources"]
    [cm_name] = [s["configMap"]["name"] for s in sources if "configMap" in s]
    [secret_name] = [s["secret"]["name"] for s in sources if "secret" in s]
    text = one("ConfigMap", cm_name)["data"][accounts_file.name]
    (tmp_path / "accounts.json").write_text(text)
    [account] = load_accounts(tmp_path / "accounts.json")
    service = one("Service", account.host)
    [port] = service["spec"]["ports"]
    assert account.port == port["port"]
    # the Service reaches the sshd container of the simulator's pod
    labels = one("Deployment", "rcm-simulator")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert port["targetPort"] in {p["name"] for p in containers()["sftp"]["ports"]}
    assert account.username == directives(SSHD_CONFIG.read_text())["AllowUsers"]
    assert account.send_for == ["*"]  # every tenant's 837s go to the one sandbox mailbox
    assert account.tenant == Settings.model_fields["tenant"].default
    # its key and pinned host key are the Secret's, in the folder the account names
    assert str(account.key_file.parent) == str(account.known_hosts.parent) == folder
    example = {d["metadata"]["name"]: d for d in by_kind("Secret")}[secret_name]
    assert {account.key_file.name, account.known_hosts.name} == set(example["stringData"])
    assert "CHANGE-ME" not in text  # the ConfigMap holds paths, never a secret


def test_production_has_no_mailbox_server_and_no_sandbox_account() -> None:
    base_files = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    in_base = [d for name, d in manifests() if name in base_files]
    names = {(d["kind"], d["metadata"]["name"]) for d in in_base}
    assert ("Service", "rcm-sftp") not in names
    assert not [d for d in in_base if d["kind"] == "PersistentVolumeClaim" and "sandbox" in str(d)]
    text = "".join((K8S / name).read_text() for name in base_files)
    assert "rcm-sftp" not in text
    assert "RCM_SIMULATOR_MAILBOX_DIR" not in text
    connector = next(d for d in in_base if d["metadata"]["name"] == "rcm-connector"
                     and d["kind"] == "Deployment")  # fmt: skip
    assert "RCM_CONNECTOR_ACCOUNTS_FILE" not in json.dumps(connector)
    sandbox = yaml.safe_load((SANDBOX / "kustomization.yaml").read_text())
    assert "connector-patch.yaml" in [p["path"] for p in sandbox["patches"]]
    assert "secrets.example.yaml" not in sandbox["resources"]  # documentation only


def test_the_servers_sshd_config_is_the_local_stacks_with_the_containers_paths() -> None:
    ours = directives(SSHD_CONFIG.read_text())
    stack = directives(stack_sshd_config(Settings()))
    assert ours.keys() == stack.keys()
    paths = {"Port", "ListenAddress", "HostKey", "PidFile", "AuthorizedKeysFile",
             "AllowUsers", "ChrootDirectory"}  # fmt: skip
    differ = {k for k in ours if ours[k] != stack[k]}
    assert differ - paths == {"PasswordAuthentication"}
    assert ours["PasswordAuthentication"] == "no"  # keys only in the sandbox
    assert ours["ForceCommand"] == "internal-sftp"  # SFTP only, no shell
