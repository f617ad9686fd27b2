"""`rcm db json-payloads` converts exactly the columns the migrations hand to json_payload()."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rcm.payloads import PAYLOAD_COLUMNS

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CALL = re.compile(r"json_payload\('(\w+)', '(\w+)', \d+\)")


def test_the_command_knows_every_column_a_migration_may_leave_jsonb() -> None:
    outbox_schemas = {s for s, t, _ in PAYLOAD_COLUMNS if t == "outbox"}
    wanted: set[tuple[str, str, str]] = set()
    for sql in (ROOT / "runtime" / "migrations").glob("*.sql"):
        for table, column in CALL.findall(sql.read_text()):
            wanted |= {(schema, table, column) for schema in outbox_schemas}
    for sql in (ROOT / "services").glob("*/migrations/*.sql"):
        schema = sql.parent.parent.name
        wanted |= {(schema, t, c) for t, c in CALL.findall(sql.read_text())}
    assert len(wanted) > len(outbox_schemas)  # the migrations were read
    assert set(PAYLOAD_COLUMNS) == wanted
    # every service with a schema of its own carries an outbox
    assert outbox_schemas == {
        p.parent.parent.name for p in (ROOT / "services").glob("*/migrations/*.sql")
    }
