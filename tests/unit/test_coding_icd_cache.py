"""The ICD-10-CM cache: built in a child process, rebuilt when corrupt or stale, equal
to a fresh build, and read without ever importing simple_icd_10_cm."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from services.coding import icd_build, icd_cache
from services.coding.icd_cache import IcdIndex

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
STALE_KEY = "0.0.1-f0-000000000000"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, IcdIndex]:
    """A cache directory that held a corrupt file for the current key, a stale key's
    file and a leftover temporary file, after one load (which rebuilt it)."""
    cache = tmp_path_factory.mktemp("icd-cache")
    index_file, _ = icd_cache.icd_cache_files(cache, icd_cache.icd_cache_key())
    index_file.write_bytes(b'{"format": 1, "key": "')  # a build cut off mid-write
    stale_index, stale_desc = icd_cache.icd_cache_files(cache, STALE_KEY)
    stale_index.write_bytes(orjson.dumps({"format": 0, "key": STALE_KEY, "index": {}}))
    stale_desc.write_bytes(b"{}")
    (cache / ".icd10cm-index-x.json.123.tmp").write_bytes(b"partial")
    return cache, icd_cache.load_icd_index(cache)


def test_a_corrupt_and_a_stale_cache_are_rebuilt(built: tuple[Path, IcdIndex]) -> None:
    cache, ix = built
    key = icd_cache.icd_cache_key()
    index_file, desc_file = icd_cache.icd_cache_files(cache, key)
    doc = orjson.loads(index_file.read_bytes())
    assert doc["key"] == key
    assert doc["format"] == icd_build.FORMAT
    assert orjson.loads(desc_file.read_bytes())["key"] == key
    # Other keys' files and interrupted writes are gone; only this key's files remain.
    assert sorted(p.name for p in cache.iterdir() if p.name != ".icd10cm.lock") == sorted(
        [index_file.name, desc_file.name]
    )
    assert key.startswith(f"{importlib.metadata.version('simple-icd-10-cm')}-f{icd_build.FORMAT}-")

    assert "E119" in ix.billable  # E11.9
    assert "E11" in ix.valid
    assert "E11" not in ix.billable
    assert "O80" in ix.female_only  # maternal chapter: the tabular list's own note
    assert "Z3400" in ix.female_only  # FEMALE_ONLY_EXTRA
    assert "N400" in ix.male_only  # "diseases of male genital organs"
    assert "classified elsewhere" in ix.never_first["G63"]  # a manifestation code
    assert "supplementary" in ix.never_first["B950"]
    assert "V0001XA" in ix.external_cause
    assert "P0700" in ix.newborn_only
    assert ix.version.startswith("icd10c")


def test_the_cached_index_equals_a_fresh_build(built: tuple[Path, IcdIndex]) -> None:
    cache, ix = built
    fresh, descriptions = icd_build.build()  # in this process, straight from the XML
    assert ix.valid == frozenset(fresh["valid"])
    assert ix.billable == frozenset(fresh["billable"])
    assert ix.external_cause == frozenset(fresh["external_cause"])
    assert ix.female_only == frozenset(fresh["female_only"])
    assert ix.male_only == frozenset(fresh["male_only"])
    assert ix.newborn_only == frozenset(fresh["newborn_only"])
    assert dict(ix.never_first) == fresh["never_first"]
    refs: dict[str, Any] = fresh["code_first_refs"]
    assert dict(ix.code_first_refs) == {k: tuple(v) for k, v in refs.items()}
    assert ix.version == fresh["version"]
    assert dict(icd_cache.load_icd_descriptions(cache)) == descriptions
    assert descriptions["I10"] == "Essential (primary) hypertension"


def test_a_good_cache_is_read_not_rebuilt(
    built: tuple[Path, IcdIndex], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, ix = built

    def no_build(cache_dir: Path, key: str) -> None:
        raise AssertionError("rebuilt a good cache")

    monkeypatch.setattr(icd_cache, "_run_builder", no_build)
    assert icd_cache.load_icd_index(cache) == ix
    desc = icd_cache.load_icd_descriptions(cache)
    assert desc["E119"] == "Type 2 diabetes mellitus without complications"


@pytest.mark.parametrize(
    "change",
    [
        {"key": STALE_KEY},
        {"format": icd_build.FORMAT + 1},
        {"index": {"valid": 5}},
        {"index": None},
    ],
)
def test_a_file_for_another_key_or_format_or_malformed_is_not_used(
    built: tuple[Path, IcdIndex], tmp_path: Path, change: dict[str, Any]
) -> None:
    cache, _ = built
    key = icd_cache.icd_cache_key()
    good, _ = icd_cache.icd_cache_files(cache, key)
    doc = orjson.loads(good.read_bytes())
    assert icd_cache._read(good, key, "index", icd_cache.index_from_json) is not None
    bad = tmp_path / good.name
    bad.write_bytes(orjson.dumps({**doc, **change}))
    assert icd_cache._read(bad, key, "index", icd_cache.index_from_json) is None


def test_an_unwritable_cache_dir_builds_in_a_temporary_one(
    built: tuple[Path, IcdIndex], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, ix = built
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    used: list[Path] = []

    def copy_build(cache_dir: Path, key: str) -> None:  # stands in for the child process
        used.append(cache_dir)
        for src, dst in zip(
            icd_cache.icd_cache_files(cache, key),
            icd_cache.icd_cache_files(cache_dir, key),
            strict=True,
        ):
            dst.write_bytes(src.read_bytes())

    monkeypatch.setattr(icd_cache, "_run_builder", copy_build)
    assert icd_cache.load_icd_index(blocked / "cache") == ix
    assert len(used) == 1
    assert not used[0].exists()


def test_the_service_never_imports_simple_icd_10_cm(built: tuple[Path, IcdIndex]) -> None:
    cache, _ = built
    code = (
        "import sys\n"
        "from services.coding import app, codesets\n"
        "assert codesets.icd_is_billable('E11.9') and not codesets.icd_is_billable('E11')\n"
        "assert codesets.icd_description('I10') == 'Essential (primary) hypertension'\n"
        "assert codesets.icd_release().fiscal_year >= 2025\n"
        "assert 'simple_icd_10_cm' not in sys.modules, 'imported simple_icd_10_cm'\n"
    )
    env = {**os.environ, icd_cache.CACHE_DIR_ENV: str(cache), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
