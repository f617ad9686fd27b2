"""GET /v1/kpis: the revenue-cycle KPIs of the caller's tenant."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from services.gateway import queries
from services.gateway.deps import Config, Gw, ReadKey
from services.gateway.errors import ERRORS, Json
from services.gateway.models import Kpis

router = APIRouter()

KPI_DESCRIPTION = """
KPIs of the caller's tenant over claims whose date of service is in [from, to].
Rates are decimal strings with 4 places (null when the denominator is zero).

- **days_in_ar**: total A/R at the end of `as_of` (UTC) ÷ average daily gross charges of
  the 90 days up to it (**charges_last_90_days_cents** ÷ 90), from statements' patient
  ledger. Total A/R (**ar_open_cents**), insurance and patient = every charge less the
  payers' and patients' payments, contractual adjustments, write-offs and refunds posted
  by then. One decimal; null when nothing was charged in those 90 days or statements does
  not run beside the gateway. The figures page's trend draws the same figure day by day.
- **clean_claim_rate**: claims submitted that were never held nor rejected ÷ claims
  submitted.
- **first_pass_resolution_rate**: claims paid (PAID or PARTIALLY_PAID) on their only
  submission, never held, rejected or denied ÷ claims with a payer decision (PAID,
  PARTIALLY_PAID or DENIED).
- **denial_rate**: claims denied ÷ claims with a payer decision; **denial_rate_by_carc**:
  per CARC on the denial's non-patient adjustments, claims denied with it ÷ claims with a
  payer decision (a claim counts under each of its CARCs).
- **net_collection_rate**: (payer payments + patient payments) ÷ (charges − payer
  adjustments (CO/OA/PI)), over claims with a payer decision.
"""


@router.get(
    "/v1/kpis",
    response_model=Kpis,
    responses={**ERRORS},
    summary="Revenue-cycle KPIs",
    description=KPI_DESCRIPTION,
)
async def get_kpis(
    gw: Gw,
    g: Config,
    p: ReadKey,
    date_from: Annotated[dt.date, Query(alias="from")] = dt.date(2000, 1, 1),
    date_to: Annotated[dt.date | None, Query(alias="to")] = None,
    as_of: dt.date | None = None,
) -> JSONResponse:
    today = dt.datetime.now(dt.UTC).date()

    async def run() -> dict[str, Any]:
        assert gw.pool is not None
        async with gw.pool.acquire() as conn:
            return await queries.kpis(
                conn, g, p.tenant, date_from, date_to or today, as_of or today
            )

    return Json(await gw.guarded(run))
