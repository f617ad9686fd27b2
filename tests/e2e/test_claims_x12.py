"""Every 837P the pipeline wrote for the settled day passes pyx12 and reads back, through
x12sdk, as the very claims the saga sent; and every sent claim's timeline says where it went."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from x12sdk.io import X12ModelReader

from runtime.settings import Settings
from schemas.common import Coverage
from schemas.events import ClaimCoded
from services.claims.cob import in_force
from tests.e2e.conftest import fetch
from tests.pyx12check import problems

pytestmark = pytest.mark.e2e


def _interchanges(s: Settings, claim_ids: list[str]) -> list[asyncpg.Record]:
    return asyncio.run(
        fetch(
            s,
            "SELECT interchange_control_number AS icn, payer_id, claim_ids, x12"
            " FROM claims.interchanges WHERE claim_ids && $1::text[] ORDER BY 1",
            claim_ids,
        )
    )


def test_every_837p_of_the_day_passes_pyx12(  # type: ignore[no-untyped-def]
    settled_day, live_stack: Settings, tmp_path: Path
) -> None:
    _, claim_ids = settled_day
    rows = _interchanges(live_stack, claim_ids)
    assert rows, "the day sent no 837P"
    for r in rows:
        path = tmp_path / f"{r['icn']:09d}.837"
        assert problems(path, r["x12"]) == []


def test_every_837p_reads_back_as_the_claims_sent(  # type: ignore[no-untyped-def]
    settled_day, live_stack: Settings
) -> None:
    _, claim_ids = settled_day
    rows = _interchanges(live_stack, claim_ids)
    subs = asyncio.run(
        fetch(
            live_stack,
            "SELECT s.claim_id, s.patient_control_number, s.frequency_code,"
            " s.interchange_control_number AS icn, c.coded, c.payer_id, c.coverages,"
            " c.date_of_service, s.cob_level"
            " FROM claims.submissions s JOIN claims.claims c USING (claim_id)"
            " WHERE s.claim_id = ANY($1::text[])",
            claim_ids,
        )
    )
    assert subs
    sent: dict[int, dict[str, Any]] = {}
    for s in subs:
        sent.setdefault(s["icn"], {})[s["patient_control_number"]] = s
    cap_seen = 0
    for r in rows:
        with X12ModelReader(r["x12"]) as reader:
            models: list[Any] = list(reader.models())
        assert len(models) == 1, r["icn"]
        read = {c.patient_control_number: c for c in models[0].claims()}
        expected = sent[r["icn"]]
        # the interchange holds exactly the claims recorded as sent in it, one payer
        assert set(read) == set(expected), r["icn"]
        assert len(read) == len(r["claim_ids"])
        cap_seen = max(cap_seen, len(read))
        for pcn, got in read.items():
            s = expected[pcn]
            claim = ClaimCoded.model_validate_json(s["coded"])
            assert claim.coverage is not None
            # the payer at the submission's place in the claim's order (1: primary)
            order = in_force(
                [Coverage.model_validate(c) for c in orjson.loads(s["coverages"] or "[]")],
                s["date_of_service"],
            ) or [claim.coverage]
            assert order[s["cob_level"] - 1].payer_id == r["payer_id"]
            assert got.charge == Decimal(claim.total_charge_cents) / 100
            assert (
                got.claim.clm_segment.health_care_service_location_information.split(":")[2]
                == (s["frequency_code"])
            )
            hi = got.claim.hi_segment[0]
            codes = [getattr(hi, f"health_care_code_{k}") for k in range(1, 13)]
            codes = [c for c in codes if c]
            assert [c[1] for c in codes] == [d.replace(".", "") for d in claim.diagnoses]
            assert [c[0] for c in codes] == ["ABK"] + ["ABF"] * (len(claim.diagnoses) - 1)
            lines = got.service_lines
            assert len(lines) == len(claim.lines)
            for loop, line in zip(lines, claim.lines, strict=True):
                sv1 = loop.sv1_segment
                assert sv1.product_service_id_qualifier.split(":")[1:] == [
                    line.procedure_code,
                    *line.modifiers,
                ]
                assert sv1.line_item_charge_amount == Decimal(line.charge_cents) / 100
                assert sv1.service_unit_count == line.units
    assert cap_seen <= 25


def test_every_sent_claim_has_its_interchange_on_its_timeline(  # type: ignore[no-untyped-def]
    settled_day, live_stack: Settings
) -> None:
    _, claim_ids = settled_day
    rows = asyncio.run(
        fetch(
            live_stack,
            "SELECT s.claim_id, s.interchange_control_number AS icn,"
            " (SELECT array_agg(e.detail ORDER BY e.id) FROM claims.claim_events e"
            "   WHERE e.claim_id = s.claim_id AND e.to_state = 'SUBMITTED'"
            "   AND e.kind = 'transition') AS sent"
            " FROM claims.submissions s WHERE s.claim_id = ANY($1::text[])",
            claim_ids,
        )
    )
    assert rows
    for r in rows:
        details = [orjson.loads(d) if isinstance(d, str) else d for d in (r["sent"] or [])]
        assert f"{r['icn']:09d}" in {d["interchange_control_number"] for d in details}, r[
            "claim_id"
        ]
