"""A 271 reply as the JSON `rcm x12 parse-271` prints and the eligibility room stores
(benefits), and the one line an answered exchange's log keeps of its warnings."""

from __future__ import annotations

from typing import Any

from runtime.x12 import X12Warning
from services.eligibility.x12_271_model import Benefit, Reply, Response


def read_through(warnings: tuple[X12Warning, ...]) -> str | None:
    """An answered exchange's ``problem``: the faults its 271 was read through, one line
    (None when there were none), for a person reviewing the exchange log."""
    if not warnings:
        return None
    first = "; ".join(
        f"{w.message} ({w.segment_id} segment {w.segment}, position {w.position})"
        for w in warnings[:5]
    )
    more = f"; and {len(warnings) - 5} more" if len(warnings) > 5 else ""
    return f"read through {len(warnings)} faults: {first}{more}"[:1000]


def benefit_json(b: Benefit) -> dict[str, Any]:
    return {
        "code": b.code,
        "service_types": list(b.service_types),
        "coverage_level": b.coverage_level,
        "amount": b.amount_text,
        "percent": str(b.percent) if b.percent is not None else None,
        "time_period": b.time_period,
        "in_network": b.in_network,
    }


def to_json(reply: Reply) -> dict[str, Any]:
    """The `rcm x12 parse-271` shape; amounts are the decimal text as the payer wrote it,
    percents are percentages (EB08 .2 -> "20")."""
    return {
        "responses": [response_json(r) for r in reply.responses],
        "warnings": [x.as_json() for x in reply.warnings],
    }


def response_json(r: Response) -> dict[str, Any]:
    return {
        "member_id": r.member_id,
        "active": r.active,
        "benefits": [benefit_json(b) for b in r.benefits],
        "rejections": [{"code": x.code, "message": x.message} for x in r.rejections],
    }
