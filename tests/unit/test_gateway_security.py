"""API keys, scopes, the per-key rate limit and the audit chain check, without I/O."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from services.gateway import audit
from services.gateway.core import RateLimiter
from services.gateway.keys import Principal, Scope, bearer, new_token, parse_scopes, token_hash

pytestmark = pytest.mark.unit


def chain(n: int) -> list[dict[str, Any]]:
    rows = []
    prev = audit.GENESIS
    for seq in range(1, n + 1):
        row: dict[str, Any] = {
            "seq": seq,
            "at": dt.datetime(2025, 3, 14, 9, 0, seq, 123456, tzinfo=dt.UTC),
            "tenant": "tenant-a",
            "actor": "k_1",
            "action": "claim.read",
            "resource": f"C{seq}",
            "patient_id": "MRN0001",
            "outcome": "ok",
            "detail": "",
            "prev_hash": prev,
        }
        row["hash"] = audit.digest(prev, row)
        prev = row["hash"]
        rows.append(row)
    return rows


def test_an_intact_chain_verifies() -> None:
    rows = chain(4)
    v = audit.verify(rows, {"seq": 4, "hash": rows[-1]["hash"]})
    assert v.ok
    assert v.rows == 4
    assert v.last_hash == rows[-1]["hash"].hex()


def test_an_altered_row_a_removed_row_and_a_cut_tail_are_each_found() -> None:
    rows = chain(4)
    rows[1]["patient_id"] = "MRN0002"
    assert audit.verify(rows).problems == ["row 2: content does not match its hash (altered)"]
    rows = chain(4)
    del rows[2]
    problems = audit.verify(rows).problems
    assert "row 4: expected seq 3 (a row is missing)" in problems
    assert "row 4: prev_hash does not match the row before" in problems
    rows = chain(4)
    head = {"seq": 4, "hash": rows[-1]["hash"]}
    assert not audit.verify(rows[:3], head).ok


def test_tokens_are_random_and_only_their_hash_identifies_them() -> None:
    (id1, t1), (id2, t2) = new_token(), new_token()
    assert id1 != id2
    assert t1 != t2
    assert t1.startswith(f"rcmk_{id1}_")
    assert len(t1) > 50
    assert token_hash(t1) != token_hash(t2)
    assert len(token_hash(t1)) == 32
    assert bearer(f"Bearer {t1}") == t1
    assert bearer(f"Basic {t1}") is None
    assert bearer("Bearer ") is None
    assert bearer(None) is None


def test_scopes_and_admin() -> None:
    assert parse_scopes("read, intake,read") == ["intake", "read"]
    with pytest.raises(ValueError, match="unknown scope"):
        parse_scopes("intake,superuser")
    reader = Principal("k", "t", frozenset({"read"}), 10)
    admin = Principal("k", "t", frozenset({"admin"}), 10)
    assert reader.allows(Scope.read)
    assert not reader.allows(Scope.work, Scope.intake)
    assert admin.allows(Scope.work)


def test_the_rate_limit_allows_a_second_worth_then_refuses() -> None:
    limiter = RateLimiter()
    allowed = [limiter.allow("k", 3) == 0 for _ in range(5)]
    assert allowed == [True, True, True, False, False]
    assert 0 < limiter.allow("k", 3) <= 1 / 3 + 0.01
    assert limiter.allow("other", 3) == 0


def keyed(n: int, key: bytes = b"k" * 32) -> list[dict[str, Any]]:
    rows = []
    prev = audit.GENESIS
    for row in chain(n):
        row = {**row, "chain": 2, "prev_hash": prev, "patient_ids": [], "claim_ids": []}
        row["hash"] = audit.mac(key, prev, row)
        prev = row["hash"]
        rows.append(row)
    return rows


def test_a_value_shifted_between_fields_kept_the_unkeyed_hash_and_breaks_the_keyed_one() -> None:
    old = chain(1)[0] | {"resource": "C1", "patient_id": "P1\x1fP2"}
    shifted = old | {"resource": "C1\x1fP1", "patient_id": "P2"}
    assert audit.digest(audit.GENESIS, old) == audit.digest(audit.GENESIS, shifted)  # 0001's flaw
    rows = keyed(1)
    rows[0] |= {"patient_id": "P1\x1fP2"}
    rows[0]["hash"] = audit.mac(b"k" * 32, audit.GENESIS, rows[0])
    assert audit.verify(rows, key=b"k" * 32).ok
    rows[0] |= {"resource": "C1\x1fP1", "patient_id": "P2"}
    assert audit.verify(rows, key=b"k" * 32).problems == [
        "row 1: content does not match its keyed hash (altered, or rewritten without the audit key)"
    ]


def test_keyed_rows_need_the_key_and_a_checkpoint_must_be_signed_with_it() -> None:
    rows = keyed(3)
    assert audit.verify(rows, key=b"k" * 32).ok
    assert not audit.verify(rows, key=b"another key").ok
    at = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
    cp = audit.sign_checkpoint(b"k" * 32, "gateway", 3, rows[-1]["hash"], at)
    assert audit.checkpoint_valid(b"k" * 32, cp)
    assert not audit.checkpoint_valid(b"another key", cp)
    assert not audit.checkpoint_valid(b"k" * 32, cp | {"seq": 2})
    assert audit.verify(rows, key=b"k" * 32, checkpoint=cp).ok
    assert "truncated" in audit.verify(rows[:2], key=b"k" * 32, checkpoint=cp).problems[0]
