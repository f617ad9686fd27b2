"""The reporting service's live KPIs, read for the caller's tenant (services/reporting).

Reporting keeps per-hour and per-day sums of the claim events in faust tables; the
gateway asks it over HTTP with the platform's ops token and never passes a tenant the
caller's key does not have. Only sums cross: no claim, no patient.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import HTTPException

from runtime.settings import Settings
from services.gateway.config import GatewaySettings


async def live_kpis(
    s: Settings, g: GatewaySettings, tenant: str, window: str, last: int
) -> dict[str, Any]:
    """The tenant's last ``last`` windows; 503 (with Retry-After) when reporting is down."""
    url = f"{g.reporting_url.rstrip('/')}/v1/kpis/live"
    headers = {"Authorization": f"Bearer {s.ops_token.get_secret_value()}"}
    params: dict[str, str | int] = {"tenant": tenant, "window": window, "last": last}
    try:
        async with httpx.AsyncClient(timeout=g.reporting_timeout_s) as client:
            r = await client.get(url, params=params, headers=headers)
    except httpx.HTTPError as exc:
        raise _down(g, f"the reporting service did not answer ({type(exc).__name__})") from exc
    if r.status_code != 200:
        raise _down(g, f"the reporting service answered {r.status_code}")
    body: dict[str, Any] = r.json()
    return body


def _down(g: GatewaySettings, why: str) -> HTTPException:
    """503 with the gateway's own Retry-After (RCM_GATEWAY_RETRY_AFTER_S), as its other 503s."""
    retry = {"Retry-After": str(g.retry_after_s)}
    return HTTPException(503, detail=f"{why}; live KPIs are unavailable, retry", headers=retry)
