"""The simulator's HTTP surface beyond /healthz and /metrics: real-time answers to a
276 (claim status, :mod:`services.simulator.status`) and a 270 (eligibility,
:mod:`services.simulator.eligibility`), as Faust views of the service's web server."""

from __future__ import annotations

import asyncio
from typing import Any

from faust.web import View

from runtime.service import Service
from schemas.events import EncounterCreated
from services.simulator import eligibility, status
from services.simulator.config import RosterSettings


def claim_status_view(svc: Service) -> type[View]:
    """POST /x12/276: a 277 for the 276 in the body."""

    class ClaimStatus276(View):
        async def post(self, request: Any, **kwargs: Any) -> Any:
            assert svc.pool is not None
            answer, text = await status.answer_request(
                svc.pool, request.headers, await request.read(), svc.settings
            )
            return self.text(text, status=answer, content_type="application/edi-x12")

    return ClaimStatus276


def eligibility_view(svc: Service, cfg: RosterSettings) -> type[View]:
    """POST /x12/270: a 271 for the 270 in the body. A member not on the roster yet waits
    for the roster feed's (encounter.created) next committed batches."""

    def roster_feed() -> asyncio.Future[None]:
        return svc.next_commit(EncounterCreated.TOPIC)

    class RealTime270(View):
        async def post(self, request: Any, **kwargs: Any) -> Any:
            assert svc.pool is not None
            answer, text = await eligibility.answer_request(
                svc.pool, request.headers, await request.read(),
                grace_s=cfg.unknown_grace_s, roster_feed=roster_feed,
                roster_wait_s=cfg.roster_wait_s, s=svc.settings,
            )  # fmt: skip
            return self.text(text, status=answer, content_type="application/edi-x12")

    return RealTime270
