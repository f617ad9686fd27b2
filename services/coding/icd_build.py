"""Build the ICD-10-CM cache files from ``simple_icd_10_cm``, in a process of its own.

    python -m services.coding.icd_build [--cache-dir DIR]

Importing ``simple_icd_10_cm`` parses the whole CMS tabular XML (about 3 s and 190 MB
RSS), and that memory stays with the process. So the coding service never imports it:
:mod:`services.coding.icd_cache` runs this module as a child process when its cache is
missing or stale, and then reads the compact files written here:

* ``icd10cm-index-<key>.json``: every set the scrubber asks about (see
  :class:`services.coding.icd_cache.IcdIndex`), keyed by the dotless code;
* ``icd10cm-descriptions-<key>.json``: dotless code -> tabular-list description, read
  only when a description is asked for.

``<key>`` names simple-icd-10-cm's version, the cache format and a hash of this file,
so a new code set or a change to the rules below is rebuilt. Files are written to a
temporary name and renamed into place: a reader never sees half a file.

Nothing at module level imports ``simple_icd_10_cm``; :func:`build` does.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

# Small documented supplement to what the tabular list says about sex. The code set
# marks whole blocks ("... of male genital organs", "... of female pelvic organs")
# and the maternal chapter/categories ("for use only on maternal records"); these
# are the sex-specific categories it does not mark, after the CMS Medicare Code
# Editor's sex-conflict lists. Dotless prefixes.
FEMALE_ONLY_EXTRA: tuple[str, ...] = (
    "D06",  # carcinoma in situ of cervix uteri
    "D070",  # carcinoma in situ of endometrium
    "D071",  # ... vulva
    "D072",  # ... vagina
    "D073",  # ... other female genital organs
    "D25",  # leiomyoma of uterus
    "D26",
    "D27",  # benign neoplasm of ovary
    "D28",
    "D39",  # neoplasm of uncertain behaviour, female genital organs
    "Z014",  # gynecological examination
    "Z124",  # screening for malignant neoplasm of cervix
    "Z33",  # pregnant state
    "Z34",  # supervision of normal pregnancy
    "Z36",  # antenatal screening
    "Z39",  # postpartum care
)
MALE_ONLY_EXTRA: tuple[str, ...] = (
    "D074",  # carcinoma in situ of penis
    "D075",  # ... prostate
    "D076",  # ... other male genital organs
    "D29",  # benign neoplasm of male genital organs
    "D40",  # neoplasm of uncertain behaviour, male genital organs
    "R972",  # elevated prostate specific antigen
    "Z125",  # screening for malignant neoplasm of prostate
)

FORMAT = 2
"""Layout of the cache files; bump it when what :func:`build` returns changes shape."""

SUPPLEMENTARY_REASON = "is a supplementary code for the infectious agent; list the condition first"
MANIFESTATION_REASON = (
    "is a manifestation code ('classified elsewhere'); the code set says to code "
    "the underlying condition first"
)

_CODE_REF = re.compile(r"\b([A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)(?:\.-|-)?")
_CODE_RANGE = re.compile(
    r"\b([A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)-?\s*-\s*([A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)\b"
)
_MALE_BLOCK = re.compile(r"(?<!fe)male genital", re.IGNORECASE)
_FEMALE_BLOCK = re.compile(r"female (genital|pelvic)", re.IGNORECASE)


def _dotless(code: str) -> str:
    return code.replace(".", "")


def parse_code_first(note: str) -> list[tuple[str, str]]:
    """Code ranges a "code first" note names, as dotless (low, high) prefix bounds."""
    if not note or "if applicable" in note.lower():
        return []
    out: list[tuple[str, str]] = []
    taken: list[tuple[int, int]] = []
    for m in _CODE_RANGE.finditer(note):
        out.append((_dotless(m.group(1)), _dotless(m.group(2))))
        taken.append(m.span())
    for m in _CODE_REF.finditer(note):
        if any(a <= m.start() < b for a, b in taken):
            continue
        c = _dotless(m.group(1))
        out.append((c, c))
    return out


def _icd() -> Any:
    with warnings.catch_warnings():  # its importlib.resources calls are deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm  # ~3 s, ~190 MB: only ever in this process

    return simple_icd_10_cm


@dataclass
class _Blocks:
    """Chapter/block level facts, read from the code set's own notes."""

    maternal: set[str] = field(default_factory=set)
    newborn: set[str] = field(default_factory=set)
    supplementary: set[str] = field(default_factory=set)
    male: set[str] = field(default_factory=set)
    female: set[str] = field(default_factory=set)
    external_chapter: str = ""


def _blocks(icd: Any, all_codes: list[str]) -> _Blocks:
    found = _Blocks()
    for code in all_codes:
        if not icd.is_chapter_or_block(code) or icd.is_category(code):
            continue
        notes = icd.get_notes(code).lower()
        desc = icd.get_description(code)
        if "only on maternal record" in notes:
            found.maternal.add(code)
        if "newborn records only" in notes:
            found.newborn.add(code)
        if "supplementary or additional codes" in notes:
            found.supplementary.add(code)
        if icd.is_chapter(code) and "(V00-Y99)" in desc:
            found.external_chapter = code
        if _FEMALE_BLOCK.search(desc):
            found.female.add(code)
        elif _MALE_BLOCK.search(desc):
            found.male.add(code)
    return found


@dataclass
class _Codes:
    """The sets the index is made of, filled code by code."""

    valid: set[str] = field(default_factory=set)
    billable: set[str] = field(default_factory=set)
    external: set[str] = field(default_factory=set)
    never_first: dict[str, str] = field(default_factory=dict)
    code_first_refs: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    female: set[str] = field(default_factory=set)
    male: set[str] = field(default_factory=set)
    newborn: set[str] = field(default_factory=set)
    descriptions: dict[str, str] = field(default_factory=dict)


class _Lookups:
    """Per-node lookups: ancestors repeat across ~75k leaves, so each is memoized."""

    def __init__(self, icd: Any) -> None:
        self.is_code = functools.cache(lambda c: bool(icd.is_category_or_subcategory(c)))
        self.notes_of = functools.cache(lambda c: str(icd.get_notes(c)).lower())
        self.desc_of = functools.cache(lambda c: str(icd.get_description(c)).lower())
        self.code_first_of = functools.cache(lambda c: str(icd.get_code_first(c)))


def _leaf(icd: Any, code: str, key: str, blocks: _Blocks, look: _Lookups, out: _Codes) -> None:
    """Classify one billable (leaf) code into ``out``."""
    out.billable.add(key)
    ancestors: list[str] = icd.get_ancestors(code)
    anc = set(ancestors)
    if blocks.external_chapter in anc:
        out.external.add(key)
    # Notes on categories too ("Z3A: only on the maternal record").
    if anc & blocks.maternal or any(
        "only on the maternal record" in look.notes_of(a) for a in ancestors if look.is_code(a)
    ):
        out.female.add(key)
    if anc & blocks.female or key.startswith(FEMALE_ONLY_EXTRA):
        out.female.add(key)
    if anc & blocks.male or key.startswith(MALE_ONLY_EXTRA):
        out.male.add(key)
    if anc & blocks.newborn:
        out.newborn.add(key)
    # Etiology/manifestation convention: an "in diseases classified elsewhere"
    # title with a "code first" note, or the supplementary B95-B97 agents.
    chain = [code] + [a for a in ancestors if look.is_code(a)]
    titled = any("classified elsewhere" in look.desc_of(a) for a in chain)
    has_code_first = any(look.code_first_of(a) for a in chain)
    if anc & blocks.supplementary:
        out.never_first[key] = SUPPLEMENTARY_REASON
    elif titled and has_code_first:
        out.never_first[key] = MANIFESTATION_REASON
    else:
        note = next((look.code_first_of(a) for a in chain if look.code_first_of(a)), "")
        refs = parse_code_first(note)
        if refs:
            out.code_first_refs[key] = refs


def build() -> tuple[dict[str, Any], dict[str, str]]:
    """(the index, the descriptions) as JSON-ready values, from the tabular list.

    The index: ``version`` (the CMS data file's name), ``valid``, ``billable``,
    ``external_cause``, ``female_only``, ``male_only``, ``newborn_only`` (sorted lists of
    dotless codes), ``never_first`` (code -> reason), ``code_first_refs`` (code -> list
    of [low, high]).
    """
    icd = _icd()
    all_codes: list[str] = icd.get_all_codes()
    blocks = _blocks(icd, all_codes)
    look = _Lookups(icd)
    out = _Codes()
    for code in all_codes:
        if not icd.is_category_or_subcategory(code):
            continue
        key = _dotless(code)
        out.valid.add(key)
        out.descriptions[key] = str(icd.get_description(code))
        if icd.is_leaf(code):
            _leaf(icd, code, key, blocks, look, out)
    index: dict[str, Any] = {
        "version": str(getattr(icd.simple_icd_10_cm, "_classification_data_package_file_name", "")),
        "valid": sorted(out.valid),
        "billable": sorted(out.billable),
        "external_cause": sorted(out.external),
        "never_first": out.never_first,
        "code_first_refs": out.code_first_refs,
        "female_only": sorted(out.female),
        "male_only": sorted(out.male - out.female),
        "newborn_only": sorted(out.newborn),
    }
    return index, out.descriptions


def write_atomic(path: Path, doc: Any) -> None:
    """Write ``doc`` as JSON to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)  # mkstemp's 0600 would hide it from other users
            f.write(orjson.dumps(doc))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_cache(cache_dir: Path, key: str) -> None:
    """Build and write both cache files for ``key`` into ``cache_dir``."""
    from services.coding.icd_cache import icd_cache_files

    index, descriptions = build()
    index_file, descriptions_file = icd_cache_files(cache_dir, key)
    header = {"format": FORMAT, "key": key}
    # Descriptions first: a present index file means the build finished.
    write_atomic(descriptions_file, {**header, "descriptions": descriptions})
    write_atomic(index_file, {**header, "index": index})


def main(argv: list[str] | None = None) -> None:
    from services.coding.icd_cache import icd_cache_dir, icd_cache_key

    ap = argparse.ArgumentParser(prog="python -m services.coding.icd_build", description=__doc__)
    ap.add_argument("--cache-dir", type=Path, default=None, help="default: icd_cache_dir()")
    ap.add_argument("--key", default=None, help="default: this code's icd_cache_key()")
    args = ap.parse_args(argv)
    cache_dir: Path = args.cache_dir or icd_cache_dir()
    write_cache(cache_dir, args.key or icd_cache_key())
    print(cache_dir)


if __name__ == "__main__":
    main()
