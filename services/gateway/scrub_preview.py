"""The claim page's re-scrub preview: what coding's scrubber would say about a fix.

The scrubber is coding's (``services/coding/preview.py``); the gateway may not import
another room, so it asks coding's ``POST /v1/scrub/preview`` over HTTP, server-side, with
the platform's ops token (as it reads reporting's live KPIs), naming only the caller's
tenant. The preview reads; it never changes the claim: sending the fix is still
``intake.fix`` (claim.fixed), which coding scrubs again for real.
"""

from __future__ import annotations

from typing import Any

import httpx

from runtime.settings import Settings
from schemas.events import EncounterCreated
from services.gateway.config import GatewaySettings


class Unavailable(Exception):
    """Coding did not answer the preview; the reason is PHI-free."""


async def findings(
    s: Settings, g: GatewaySettings, tenant: str, claim_id: str, encounter: EncounterCreated
) -> list[dict[str, Any]]:
    """Coding's findings on the corrected encounter (holds first, each with its fix)."""
    url = f"{g.coding_url.rstrip('/')}/v1/scrub/preview"
    headers = {
        "Authorization": f"Bearer {s.ops_token.get_secret_value()}",
        "Content-Type": "application/json",
    }
    body = {
        "tenant": tenant,
        "claim_id": claim_id,
        "encounter": encounter.model_dump(mode="json"),
    }
    try:
        async with httpx.AsyncClient(timeout=g.coding_timeout_s) as client:
            r = await client.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise Unavailable(f"the coding service did not answer ({type(exc).__name__})") from exc
    if r.status_code == 404:
        raise Unavailable("the coding service has not coded this claim yet")
    if r.status_code != 200:
        raise Unavailable(f"the coding service answered {r.status_code}")
    out: list[dict[str, Any]] = r.json()["findings"]
    return out
