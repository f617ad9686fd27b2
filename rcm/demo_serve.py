"""`rcm demo --serve` (`make ui`): the demo day through the gateway, as an EHR sends it,
then the stack and the services kept up with a one-time sign-in link for a demo biller."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from rcm.cli_keys import create_key
from rcm.cli_payers import load_demo_payers
from rcm.cli_users import create_user
from rcm.processes import SERVICES
from runtime.settings import Settings
from schemas.events import EncounterCreated

#: Encounters in flight at once to the gateway.
PARALLEL = 8


def gateway_url(s: Settings) -> str:
    return f"http://127.0.0.1:{SERVICES['gateway'] + s.http_port_offset}"


async def publish_through_gateway(s: Settings, day: list[EncounterCreated], tenant: str) -> None:
    """POST /v1/encounters for each, with an intake key of the demo EHR: the gateway keeps
    each encounter, so the billing office's claim page shows it and can fix it."""
    await load_demo_payers(s, tenant)
    key = await create_key(tenant, ["intake"], "demo-ehr", 100_000)
    headers = {"Authorization": f"Bearer {key['token']}"}
    gate = asyncio.Semaphore(PARALLEL)
    async with httpx.AsyncClient(base_url=gateway_url(s), headers=headers, timeout=30) as c:

        async def one(enc: EncounterCreated) -> None:
            async with gate:
                r = await c.post("/v1/encounters", json=enc.model_dump(mode="json"))
            if r.status_code != 202:
                raise RuntimeError(f"the gateway refused an encounter: {r.status_code}")

        await asyncio.gather(*(one(e) for e in day))


def hold_open(s: Settings, tenant: str, result: dict[str, Any], out: Path) -> None:
    """Prints the summary, makes a demo biller, prints where to sign in, waits for Ctrl-C."""
    from rcm.cli import print_summary

    print_summary(result, out)
    email = f"biller-{uuid.uuid4().hex[:6]}@{tenant}.example"
    made = asyncio.run(create_user(tenant, email, "biller", None))
    base = gateway_url(s)
    print(
        f"\nThe billing office is up: {base}/login\n"
        f"Sign in once as the demo biller {email} (choose a password):\n"
        f"  {base}{made['invite']}\n"
        f"{result['claims']} claims of tenant {tenant}. Ctrl-C stops the services.",
        flush=True,
    )
    # Ctrl-C, or a TERM from a supervisor (a shell's background job ignores SIGINT).
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping the services", flush=True)


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
