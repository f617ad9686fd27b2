"""scripts/check_house.py finds what a reviewer would: a room too big, a function too
long, SQL that reads another service's table."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def _house() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_house", ROOT / "scripts" / "check_house.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_house"] = module
    spec.loader.exec_module(module)
    return module


house = _house()


def _tree(tmp_path: Path) -> Path:
    mig = tmp_path / "services" / "claims" / "migrations"
    mig.mkdir(parents=True)
    (mig / "0001.sql").write_text("CREATE TABLE claims (id text);\nCREATE TABLE outbox (x int);")
    (tmp_path / "services" / "gateway").mkdir(parents=True)
    return tmp_path


def test_a_long_function_and_a_big_file_are_named(tmp_path: Path) -> None:
    f = tmp_path / "big.py"
    body = "def long():\n" + "    x = 1\n" * 85 + "\n" * 420
    found = list(house.size_offences(f, body, tmp_path))
    assert [(o.path, o.function) for o in found] == [("big.py", ""), ("big.py", "long")]
    assert "86 lines" in str(found[1])


def test_sql_naming_another_services_table_is_named_but_its_view_is_not(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    tables = house.service_tables(root)
    assert tables == {"claims": {"claims"}}  # the runtime's outbox is the runtime's
    reader = root / "services" / "gateway" / "queries.py"
    source = (
        'A = "SELECT * FROM claims.claims"\n'
        'B = f"SELECT * FROM {schema}.claims cl"\n'
        'C = "SELECT * FROM claims.claim_v1"\n'
        'D = f"SELECT * FROM {schema}.outbox"\n'
    )
    found = [str(o) for o in house.foreign_sql_offences(reader, source, tables, root)]
    assert len(found) == 2
    assert "claims.claims at line 1" in found[0]
    assert "{...}.claims at line 2" in found[1]


def test_a_service_may_name_its_own_tables(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    own = root / "services" / "claims" / "repository.py"
    source = 'A = f"UPDATE {schema}.claims SET state = $1"\n'
    assert not list(house.foreign_sql_offences(own, source, house.service_tables(root), root))
