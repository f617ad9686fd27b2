"""The statements service's world for integration tests: a feed of events into a
throwaway statements service, and visits and payer decisions to feed it."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import orjson

from runtime.service import Record, Service
from schemas.codec import decode, encode, new_meta
from schemas.common import Adjustment, ServiceLine
from schemas.events import AdjudicationStatus, ClaimAdjudicated, EncounterCreated, Event
from schemas.ids import claim_id_for
from tests.builders import encounter
from tests.unit.factories import person

TENANT = "it-clinic"


class Feed:
    def __init__(self, svc: Service) -> None:
        self.svc = svc
        self.offset = 0

    def record(self, event: Event, correlation_id: str = "x") -> Record:
        x = encode(
            event, new_meta(event, source="test", tenant=TENANT, correlation_id=correlation_id)
        )
        self.offset += 1
        return Record(event.TOPIC, 0, self.offset, x.key, x.value, x.headers)

    async def send(self, *events: Event) -> None:
        for e in events:
            await self.svc.process(e.TOPIC, [self.record(e)])

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        assert self.svc.pool is not None
        return list(await self.svc.pool.fetch(sql, *args))

    async def val(self, sql: str, *args: Any) -> Any:
        assert self.svc.pool is not None
        return await self.svc.pool.fetchval(sql, *args)

    async def emitted(self) -> list[tuple[Event, str]]:
        rows = await self.fetch("SELECT value, headers FROM outbox ORDER BY id")
        out = []
        for r in rows:
            headers = [(k, base64.b64decode(v)) for k, v in orjson.loads(r["headers"])]
            msg = decode(r["value"], headers)
            out.append((msg.event, msg.meta.correlation_id))
        return out

    async def claim_balance(self, claim_id: str) -> int:
        return int(
            await self.val(
                "SELECT coalesce(sum(amount_cents), 0)::bigint FROM ledger WHERE claim_id = $1",
                claim_id,
            )
        )


def visit(
    n: int, guarantor: str = "MRN0001", who: dict[str, Any] | None = None, **kw: Any
) -> tuple[EncounterCreated, str]:
    """``who``: the patient's (the guarantor's) other details, such as an email."""
    enc = encounter(
        encounter_id=f"E-{uuid.uuid4().hex[:8]}-{n}",
        patient=person(id=guarantor, **(who or {})),
        lines=[
            ServiceLine(procedure_code="99213", charge_cents=15000, diagnosis_codes=["J02.9"]),
            ServiceLine(procedure_code="J3420", charge_cents=5000, diagnosis_codes=["J02.9"]),
        ],
        **kw,
    )
    return enc, claim_id_for(TENANT, enc.encounter_id)


def decision(
    claim_id: str,
    paid: int,
    co: int,
    pr: int,
    *,
    payer: str = "PPO01",
    status_code: str = "1",
    charge: int = 20000,
) -> ClaimAdjudicated:
    adjustments = [Adjustment(group="CO", reason="45", amount_cents=co)] if co else []
    if pr:
        adjustments.append(Adjustment(group="PR", reason="2", amount_cents=pr))
    return ClaimAdjudicated(
        claim_id=claim_id,
        patient_control_number=claim_id,
        payer_id=payer,
        trace_number=uuid.uuid4().hex[:10],
        status=AdjudicationStatus.partially_paid if pr else AdjudicationStatus.paid,
        claim_status_code=status_code,
        charge_cents=charge,
        paid_cents=paid,
        patient_responsibility_cents=pr,
        adjustments=adjustments,
    )
