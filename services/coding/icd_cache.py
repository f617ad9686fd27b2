"""The ICD-10-CM index the scrubber reads (:class:`IcdIndex`) and its cache on disk.

Importing ``simple_icd_10_cm`` parses the whole tabular XML (about 3 s and 190 MB RSS,
which a process keeps), so this process never imports it: :mod:`services.coding.icd_build`,
run as a child process, precomputes every set the scrubber needs (so that a claim costs
only set lookups) and the descriptions, and writes them to a compact cache
(:func:`icd_cache_dir`, keyed by simple-icd-10-cm's version, the cache format and the
builder's rules). :func:`load_icd_index` reads it, building it first when it is missing,
corrupt or stale; :func:`services.coding.codesets.icd_index` keeps it for the process.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import orjson

from services.coding import icd_build


@dataclass(frozen=True, slots=True)
class IcdIndex:
    """Everything the scrubber asks of ICD-10-CM, as sets keyed by the dotless code."""

    valid: frozenset[str]
    """Categories and subcategories (headers and billable codes); not chapters/blocks."""
    billable: frozenset[str]
    """Leaf codes: the only ones a claim may carry."""
    external_cause: frozenset[str]
    """Chapter 20 (V00-Y99): never first-listed."""
    never_first: Mapping[str, str]
    """Manifestation / supplementary codes -> the code set's reason."""
    code_first_refs: Mapping[str, tuple[tuple[str, str], ...]]
    """Code -> dotless (low, high) ranges its "code first" note names."""
    female_only: frozenset[str]
    male_only: frozenset[str]
    newborn_only: frozenset[str]
    """Codes for newborn records only (chapter 16): the MCE's newborn group, age 0."""
    version: str


log = logging.getLogger("rcm.coding")

CACHE_DIR_ENV = "RCM_CODING_CACHE_DIR"
"""Environment variable naming the ICD-10-CM cache directory (see :func:`icd_cache_dir`)."""
BUILD_TIMEOUT_S = 600.0

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]
"""The directory holding the ``services`` package: a source checkout, or site-packages."""
_BUILDER = Path(icd_build.__file__)

T = TypeVar("T")


def icd_cache_dir() -> Path:
    """Where the ICD-10-CM cache files live.

    ``$RCM_CODING_CACHE_DIR`` if set; else ``.cache/rcm`` at the root of a source
    checkout; else ``$XDG_CACHE_HOME/rcm`` (``~/.cache/rcm``) for an installed package.
    """
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured)
    if (_PACKAGE_ROOT / "pyproject.toml").is_file():
        return _PACKAGE_ROOT / ".cache" / "rcm"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "rcm"


def icd_cache_key() -> str:
    """simple-icd-10-cm's version, the cache format and a hash of the builder's rules."""
    try:
        package = importlib.metadata.version("simple-icd-10-cm")
    except importlib.metadata.PackageNotFoundError:
        package = "unknown"
    rules = hashlib.sha256(_BUILDER.read_bytes()).hexdigest()[:12]
    return f"{package}-f{icd_build.FORMAT}-{rules}"


def icd_cache_files(cache_dir: Path, key: str) -> tuple[Path, Path]:
    """(the index file, the descriptions file) for ``key`` in ``cache_dir``."""
    return (
        cache_dir / f"icd10cm-index-{key}.json",
        cache_dir / f"icd10cm-descriptions-{key}.json",
    )


def _codes(value: Any, canon: dict[str, str]) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of codes")
    # One str object per code across every set (the JSON parser makes one per mention).
    return frozenset(canon.setdefault(v, v) for v in value)


def _str_map(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("expected an object")
    return value


def index_from_json(doc: Any) -> IcdIndex:
    """An :class:`IcdIndex` from the index :func:`services.coding.icd_build.build` returns
    (as read back from JSON); ``ValueError`` when it is malformed."""
    d = _str_map(doc)
    canon: dict[str, str] = {}
    valid = _codes(d["valid"], canon)
    reasons: dict[str, str] = {}
    never_first: dict[str, str] = {}
    for code, reason in _str_map(d["never_first"]).items():
        if not isinstance(reason, str):
            raise ValueError("expected a reason")
        never_first[canon.setdefault(code, code)] = reasons.setdefault(reason, reason)
    code_first_refs: dict[str, tuple[tuple[str, str], ...]] = {}
    for code, refs in _str_map(d["code_first_refs"]).items():
        if not isinstance(refs, list):
            raise ValueError("expected a list of ranges")
        ranges: list[tuple[str, str]] = []
        for rng in refs:
            if not (
                isinstance(rng, list) and len(rng) == 2 and all(isinstance(c, str) for c in rng)
            ):
                raise ValueError("expected a [low, high] range")
            ranges.append((rng[0], rng[1]))
        code_first_refs[canon.setdefault(code, code)] = tuple(ranges)
    version = d["version"]
    if not isinstance(version, str):
        raise ValueError("expected version")
    return IcdIndex(
        valid=valid,
        billable=_codes(d["billable"], canon),
        external_cause=_codes(d["external_cause"], canon),
        never_first=MappingProxyType(never_first),
        code_first_refs=MappingProxyType(code_first_refs),
        female_only=_codes(d["female_only"], canon),
        male_only=_codes(d["male_only"], canon),
        newborn_only=_codes(d["newborn_only"], canon),
        version=version,
    )


def _descriptions_from_json(doc: Any) -> Mapping[str, str]:
    d = _str_map(doc)
    if not all(isinstance(v, str) for v in d.values()):
        raise ValueError("expected descriptions")
    return MappingProxyType(d)


def _read(path: Path, key: str, field: str, convert: Callable[[Any], T]) -> T | None:
    """The converted ``field`` of a cache file written for ``key``; ``None`` when the file
    is missing, unreadable, corrupt or for another key/format."""
    try:
        doc = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as e:
        log.warning("ICD-10-CM cache %s is unreadable (%s); rebuilding it", path, e)
        return None
    if (
        not isinstance(doc, dict)
        or doc.get("format") != icd_build.FORMAT
        or doc.get("key") != key
        or field not in doc
    ):
        log.warning("ICD-10-CM cache %s is not for %s; rebuilding it", path, key)
        return None
    try:
        return convert(doc[field])
    except (KeyError, ValueError) as e:
        log.warning("ICD-10-CM cache %s is malformed (%s); rebuilding it", path, e)
        return None


def _run_builder(cache_dir: Path, key: str) -> None:
    """Build the cache files in a child process (it alone imports simple_icd_10_cm)."""
    env = dict(os.environ)
    # The child imports this very ``services`` package, wherever it was started from.
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p
    )
    cmd = [sys.executable, "-m", "services.coding.icd_build", "--cache-dir", str(cache_dir)]
    log.info("building the ICD-10-CM cache %s in %s (one-off, a few seconds)", key, cache_dir)
    t0 = time.perf_counter()
    done = subprocess.run(
        [*cmd, "--key", key],
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"building the ICD-10-CM cache failed (exit {done.returncode}): {done.stderr[-2000:]}"
        )
    log.info("ICD-10-CM cache built in %.1f s", time.perf_counter() - t0)


def _prune(cache_dir: Path, key: str) -> None:
    """Remove other keys' cache files and leftovers of interrupted builds (under the lock)."""
    keep = set(icd_cache_files(cache_dir, key))
    for path in [*cache_dir.glob("icd10cm-*.json"), *cache_dir.glob(".icd10cm-*.tmp")]:
        if path not in keep:
            with contextlib.suppress(OSError):
                path.unlink()


def _cached(cache_dir: Path | None, which: int, field: str, convert: Callable[[Any], T]) -> T:
    """Read one cache file (0: index, 1: descriptions), building the cache when it is
    missing, corrupt or stale. One process builds; others wait on a lock file and read."""
    key = icd_cache_key()
    directory = icd_cache_dir() if cache_dir is None else cache_dir
    path = icd_cache_files(directory, key)[which]
    found = _read(path, key, field, convert)
    if found is not None:
        return found
    try:
        directory.mkdir(parents=True, exist_ok=True)
        lock = (directory / ".icd10cm.lock").open("ab")
    except OSError as e:
        log.warning(
            "cannot write the ICD-10-CM cache in %s (%s); using a temporary one", directory, e
        )
        with tempfile.TemporaryDirectory(prefix="rcm-icd10cm-") as tmp:
            _run_builder(Path(tmp), key)
            found = _read(icd_cache_files(Path(tmp), key)[which], key, field, convert)
    else:
        with lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # released when the file closes
            found = _read(path, key, field, convert)  # built while we waited?
            if found is None:
                _run_builder(directory, key)
                _prune(directory, key)
                found = _read(path, key, field, convert)
    if found is None:
        raise RuntimeError(f"the ICD-10-CM cache builder did not write {path.name}")
    return found


def load_icd_index(cache_dir: Path | None = None) -> IcdIndex:
    """The index from the cache in ``cache_dir`` (default :func:`icd_cache_dir`), built
    first (in a child process) when missing or stale. Not memoized: see :func:`icd_index`."""
    return _cached(cache_dir, 0, "index", index_from_json)


def load_icd_descriptions(cache_dir: Path | None = None) -> Mapping[str, str]:
    """Dotless code -> tabular-list description, from the cache like :func:`load_icd_index`."""
    return _cached(cache_dir, 1, "descriptions", _descriptions_from_json)
