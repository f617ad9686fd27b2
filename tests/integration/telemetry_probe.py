"""Run by test_telemetry.py in a process of its own (telemetry.setup patches asyncpg and
aiokafka for the whole process): one message through a real service with the jsonl
exporter, its event relayed, and one FastAPI request with a query string.

    python -m tests.integration.telemetry_probe TRACES_DIR OUT_TOPIC TRACEPARENT
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
from fastapi import FastAPI

from runtime import telemetry
from runtime.service import Context, Record, Service
from runtime.settings import Settings
from schemas.codec import encode, new_meta
from schemas.events import EncounterCreated
from tests.builders import encounter
from tests.throwaway import throwaway_service

MIGRATIONS = Path(__file__).parent / "migrations"


async def main(out: str, traceparent: str) -> None:
    def wire(svc: Service) -> None:
        async def handler(ctx: Context, enc: EncounterCreated) -> None:
            await ctx.conn.execute("INSERT INTO effects(encounter_id) VALUES ($1)", enc.patient.id)
            await ctx.emit(enc, topic=out)

        svc.on(EncounterCreated, handler, topic=f"{out}.in")

    async with throwaway_service("probe", MIGRATIONS, wire, Settings()) as svc:
        enc = encounter(encounter_id="E-PROBE-1")
        x = encode(
            enc,
            new_meta(enc, source="test", tenant="t1", correlation_id="C1", traceparent=traceparent),
        )
        await svc.process(f"{out}.in", [Record(f"{out}.in", 0, 0, x.key, x.value, x.headers)])
        assert await svc.relay_once() == 1

    app = FastAPI()

    @app.get("/v1/claims")
    async def claims(patient_control_number: str) -> dict[str, int]:
        return {"found": 0}

    telemetry.instrument_fastapi(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        got = await client.get(
            "/v1/claims",
            params={"patient_control_number": "PCN-SECRET-1"},
            headers={"traceparent": traceparent},
        )
        assert got.status_code == 200


if __name__ == "__main__":
    telemetry.setup("probe", "jsonl", Path(sys.argv[1]))
    asyncio.run(main(sys.argv[2], sys.argv[3]))
