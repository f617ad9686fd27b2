"""The house rules a reviewer would otherwise check by hand (docs/architecture.md).

1. No source file over 500 lines, no function over 80.
2. No SQL outside a service names that service's tables: other code reads the
   versioned views a service publishes (``<schema>.<name>_v1``) or its events.
   The runtime's own tables in every schema (outbox, processed_messages,
   dead_letters, dead_letter_details, consumed_positions, schema_migrations) belong to
   the runtime.

``python scripts/check_house.py [PATH ...]`` prints every offender, one a line, and
exits 1 if there is any; with paths it looks only there.
"""

from __future__ import annotations

import ast
import itertools
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("schemas", "runtime", "services", "rcm", "scripts", "tests", "deploy")
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80
RUNTIME_TABLES = {
    "outbox",
    "processed_messages",
    "dead_letters",
    "dead_letter_details",
    "consumed_positions",
    "schema_migrations",
}
_CREATE_TABLE = re.compile(r"CREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I)
_QUALIFIED = re.compile(r"\b([a-z_]+)\.([a-z_][a-z0-9_]*)\b")
_AFTER_SCHEMA = re.compile(r"^\.([a-z_][a-z0-9_]*)\b")


@dataclass(frozen=True, order=True)
class Offence:
    path: str
    what: str
    function: str = ""

    def __str__(self) -> str:
        return f"{self.path}: {self.what}"


def python_files(paths: Iterable[Path]) -> Iterator[Path]:
    for p in paths:
        if p.is_file() and p.suffix == ".py":
            yield p
        elif p.is_dir():
            for f in sorted(p.rglob("*.py")):
                if not any(part.startswith(".") for part in f.relative_to(ROOT).parts):
                    yield f


def size_offences(path: Path, source: str, root: Path = ROOT) -> Iterator[Offence]:
    rel = str(path.relative_to(root))
    lines = source.count("\n") + (0 if source.endswith("\n") else 1)
    if lines > MAX_FILE_LINES:
        yield Offence(rel, f"file has {lines} lines (limit {MAX_FILE_LINES})")
    for node in ast.walk(ast.parse(source, filename=rel)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - first + 1
            if length > MAX_FUNCTION_LINES:
                yield Offence(
                    rel,
                    f"function {node.name} has {length} lines at line {node.lineno}"
                    f" (limit {MAX_FUNCTION_LINES})",
                    node.name,
                )


def service_tables(root: Path = ROOT) -> dict[str, set[str]]:
    """Each service's schema -> the tables its migrations create."""
    out: dict[str, set[str]] = {}
    for migrations in sorted((root / "services").glob("*/migrations")):
        names = {
            m.group(1).lower()
            for sql in migrations.glob("*.sql")
            for m in _CREATE_TABLE.finditer(sql.read_text())
        }
        out[migrations.parent.name] = names - RUNTIME_TABLES
    return out


def owner_of(path: Path, root: Path = ROOT) -> str | None:
    """The service a file belongs to (its own code and its own tests), if any."""
    rel = path.relative_to(root).parts
    if len(rel) > 1 and rel[0] == "services":
        return rel[1]
    return None


def foreign_sql_offences(
    path: Path, source: str, tables: dict[str, set[str]], root: Path = ROOT
) -> Iterator[Offence]:
    """``schema.table`` in a string, and ``{schema_var}.table`` in an f-string, where the
    table is another service's."""
    rel = str(path.relative_to(root))
    owner = owner_of(path, root)
    own = tables.get(owner or "", set())
    anyone = {t: s for s, names in tables.items() for t in names if s != owner}
    for node in ast.walk(ast.parse(source, filename=rel)):
        named: list[tuple[str, str]] = []
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            named += [
                (m.group(1), m.group(2).lower())
                for m in _QUALIFIED.finditer(node.value)
                if m.group(1) != owner and m.group(2).lower() in tables.get(m.group(1), ())
            ]
        if isinstance(node, ast.JoinedStr):
            parts = node.values
            for before, part in itertools.pairwise(parts):
                if isinstance(before, ast.FormattedValue) and isinstance(part, ast.Constant):
                    m = _AFTER_SCHEMA.match(str(part.value))
                    if m and m.group(1).lower() in anyone and m.group(1).lower() not in own:
                        named.append(("{...}", m.group(1).lower()))
        for schema, table in named:
            yield Offence(
                rel,
                f"names {schema}.{table} at line {getattr(node, 'lineno', 0)}: read a view its service"
                " publishes (<name>_v1) instead",
            )


def check(paths: Iterable[Path]) -> list[Offence]:
    tables = service_tables()
    offences: list[Offence] = []
    for f in python_files(paths):
        source = f.read_text()
        offences.extend(size_offences(f, source))
        # Tests may set up and inspect any schema's tables: they stand in for the world.
        if f.relative_to(ROOT).parts[0] != "tests":
            offences.extend(foreign_sql_offences(f, source, tables))
    return sorted(offences)


def main(argv: list[str]) -> int:
    paths = [Path(a).resolve() for a in argv] or [ROOT / d for d in SOURCE_DIRS]
    offences = check(paths)
    for o in offences:
        print(o)
    if offences:
        print(f"{len(offences)} offence(s)", file=sys.stderr)
        return 1
    print("house rules: no offences")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
