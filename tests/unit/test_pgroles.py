"""The PostgreSQL role plan (runtime/pgroles.py): what each grant statement list holds,
and that the gateway's view grants are the views docs/views.md says it reads."""

from __future__ import annotations

import re

import pytest

from runtime import pgroles
from runtime.settings import REPO_ROOT

pytestmark = pytest.mark.unit

EVERY_ROLE = set(pgroles.all_roles())


def test_the_audit_log_loses_update_and_delete_and_no_role_gets_truncate() -> None:
    sql = pgroles.grant_sql("gateway", {"audit_log", "audit_head", "api_keys"}, EVERY_ROLE)
    assert "REVOKE UPDATE, DELETE ON gateway.audit_log FROM rcm_gateway" in sql
    # the revocation comes after the schema-wide DML grant, or it would be undone
    grant_all = next(i for i, q in enumerate(sql) if "ON ALL TABLES IN SCHEMA gateway TO" in q)
    assert sql.index("REVOKE UPDATE, DELETE ON gateway.audit_log FROM rcm_gateway") > grant_all
    assert not [q for q in sql if q.startswith("GRANT") and "TRUNCATE" in q]
    assert not [q for q in sql if "_owner" in q]  # nobody is granted the owner's role


def test_the_gateway_is_granted_views_never_a_table() -> None:
    sql = pgroles.grant_sql("claims", {"claims", "claim_events", "claim_v1"}, EVERY_ROLE)
    to_gateway = [q for q in sql if q.endswith("TO rcm_gateway")]
    assert to_gateway == [
        "GRANT USAGE ON SCHEMA claims TO rcm_gateway",
        "GRANT SELECT ON claims.claim_v1 TO rcm_gateway",
    ]
    assert not [q for q in sql if "ALL TABLES" in q and "rcm_gateway" in q]


def test_a_role_the_cluster_lacks_gets_nothing() -> None:
    assert pgroles.grant_sql("claims", {"claims", "claim_v1"}, set()) == []
    only_runtime = pgroles.grant_sql("claims", {"claim_v1"}, {"rcm_claims"})
    assert only_runtime
    assert all("rcm_claims" in q for q in only_runtime)


def test_dead_letter_text_is_written_but_never_read_by_the_runtime_role() -> None:
    sql = pgroles.grant_sql("remittance", {"dead_letter_details"}, EVERY_ROLE)
    assert sql[-2:] == [
        "REVOKE SELECT, UPDATE ON remittance.dead_letter_details FROM rcm_remittance",
        "GRANT SELECT (dead_letter_id, at) ON remittance.dead_letter_details TO rcm_remittance",
    ]


def test_a_bad_identifier_is_refused_not_interpolated() -> None:
    with pytest.raises(ValueError, match="bad identifier"):
        pgroles.grant_sql("claims; DROP TABLE x", set(), EVERY_ROLE)


def test_the_gateways_grants_are_the_views_docs_views_md_says_it_reads() -> None:
    documented: dict[str, set[str]] = {}
    schema = ""
    for line in (REPO_ROOT / "docs" / "views.md").read_text().splitlines():
        if line.startswith("## "):
            schema = line.split()[1]
        cells = [c.strip() for c in line.split("|")]
        view = len(cells) > 4 and re.fullmatch(r"`[a-z_]+_v\d+`", cells[1])
        if view and "gateway" in cells[-2]:
            documented.setdefault(schema, set()).add(cells[1].strip("`"))
    assert documented == {k: set(v) for k, v in pgroles.GATEWAY_VIEWS.items()}
