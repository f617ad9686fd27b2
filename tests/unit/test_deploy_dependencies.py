"""The image installs exactly uv.lock's runtime set, and that set is what the services
import: test-only libraries in the dev group, every imported library declared."""

from __future__ import annotations

import ast
import re
import tomllib

import pytest

from runtime.settings import REPO_ROOT

pytestmark = pytest.mark.unit

PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
LOCK = tomllib.loads((REPO_ROOT / "uv.lock").read_text())


def _names(specs: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", s, maxsplit=1)[0].lower() for s in specs}


def _imported_roots(*packages: str) -> set[str]:
    roots: set[str] = set()
    for package in packages:
        for path in (REPO_ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    roots |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    roots.add(node.module.split(".")[0])
    return roots


def test_every_dockerfile_installs_from_the_lock_only() -> None:
    python_images = 0
    for dockerfile in (REPO_ROOT / "deploy").rglob("Dockerfile*"):
        if dockerfile.name.endswith(".dockerignore"):
            continue
        if not re.search(r"\b(python|pip|uv)\b", dockerfile.read_text()):
            continue  # no Python in it (the sandbox's SFTP server: Debian's sshd alone)
        python_images += 1
        runs = [line for line in dockerfile.read_text().splitlines() if "install" in line]
        for line in runs:
            assert "uv pip" not in line, f"{dockerfile}: {line.strip()}"
            if "pip install" in line:  # uv itself, pinned
                assert re.search(r'pip install --no-cache-dir "uv==[\d.]+"$', line), line
        syncs = re.findall(r"uv sync ([^\n]*)", dockerfile.read_text())
        assert syncs
        assert all("--frozen" in s and "--no-dev" in s for s in syncs)
    assert python_images  # the services' image at least


def test_test_only_libraries_are_dev_dependencies_and_no_service_imports_them() -> None:
    runtime = _names(PROJECT["project"]["dependencies"])
    dev = _names(PROJECT["dependency-groups"]["dev"])
    assert {"x12sdk", "pyx12"} <= dev
    assert not {"x12sdk", "pyx12"} & runtime
    assert not {"x12sdk", "pyx12"} & _imported_roots("services", "rcm", "runtime", "schemas")


def test_the_runtime_set_declares_what_the_services_import_and_the_otlp_exporter() -> None:
    runtime = _names(PROJECT["project"]["dependencies"])
    assert "aiohttp" in _imported_roots("services")
    assert {
        "aiohttp",
        "opentelemetry-exporter-otlp-proto-http",
        "opentelemetry-instrumentation-fastapi",
        "opentelemetry-instrumentation-asyncpg",
        "opentelemetry-instrumentation-aiokafka",
    } <= runtime
    locked = {p["name"] for p in LOCK["package"]}
    assert runtime <= locked
