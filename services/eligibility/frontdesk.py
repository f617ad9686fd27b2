"""The front desk's benefit checks (issue 28): before a visit, what will the patient owe?

The gateway sends ``eligibility.benefit-check`` (a person's question: patient, card,
payer, provider, date); :func:`on_benefit_check` keeps it in ``benefit_checks`` and
returns, so the partition never waits on a payer. :class:`DeskChecks` (a timer woken by
that topic) asks the payer over the same CAQH CORE transport as the claims' checks
(a 270, the 271 back), and keeps the figures the 271 gives for the visit's service types
(copay, deductible left, coinsurance, out-of-pocket left: ``domain.figures``) with the
raw 270 and 271. Others read them in ``benefit_check_v1`` (docs/views.md). A payer that
cannot answer now (AAA 42, a timeout, a busy endpoint) is asked again after the backoff,
up to ``RCM_ELIGIBILITY_MAX_ATTEMPTS``; then the check fails with the reason in words.
Without real-time 270s (``RCM_ELIGIBILITY_REALTIME=false``) a check fails at once saying so.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from runtime.service import Context, Service
from runtime.settings import Settings
from runtime.x12 import X12Error
from schemas.events_frontdesk import BenefitCheckRequested
from services.eligibility.client import InquiryRejected, PayerUnavailable, Transport
from services.eligibility.config import EligibilitySettings
from services.eligibility.domain import figures, response_for
from services.eligibility.repository import (
    due_benefit_checks,
    inquiry_control_numbers,
    queue_benefit_check,
    record_benefit_answer,
)
from services.eligibility.x12_270 import (
    GENERIC,
    VISIT_SERVICE_TYPES,
    Inquiry,
    Name,
    envelope_for,
    write_270,
)
from services.eligibility.x12_271 import parse_271
from services.eligibility.x12_271_model import Response

NO_REALTIME = "real-time eligibility is off here: verify by the payer's portal or phone"


def inquiry(req: BenefitCheckRequested, trace: str) -> Inquiry:
    """The 270 for the card the front desk typed in: the patient is the subscriber."""
    return Inquiry(
        trace=trace,
        originator="9" + req.provider_npi[:9],
        payer_id=req.payer_id,
        payer_name=req.payer_name,
        provider_name=req.provider_name,
        provider_npi=req.provider_npi,
        subscriber=Name(req.last_name, req.first_name, req.birth_date, req.sex.value),
        member_id=req.member_id,
        group_number=req.group_number,
        date_of_service=req.date_of_service,
        service_types=(GENERIC, *VISIT_SERVICE_TYPES.get(req.visit_type.value, ())),
    )


def answer(response: Response, service_types: tuple[str, ...]) -> dict[str, Any]:
    """What the 271 says, as the front desk reads it: the figures when covered, else why
    not in words. ``state`` pending means the payer asked to be asked again."""
    retry = [r for r in response.rejections if r.retryable]
    if retry:
        return {
            "state": "pending",
            "problem": f"the payer asked to be asked again: {retry[0].message}",
        }
    if response.rejections:
        words = "; ".join(f"{r.message} (AAA {r.code})" for r in response.rejections)
        return {"state": "failed", "problem": f"the payer rejected the inquiry: {words}"}
    if response.active is None:
        return {"state": "failed", "problem": "the 271 says neither active nor inactive"}
    if not response.active:
        ends = response.coverage_ends
        when = f" (coverage ended {ends})" if ends else ""
        return {"state": "answered", "active": False, "problem": f"not covered on that date{when}"}
    f = figures(response.benefits, service_types)
    return {
        "state": "answered",
        "active": True,
        "copay_cents": f.copay_cents,
        "deductible_remaining_cents": f.deductible_remaining_cents,
        "coinsurance_percent": f.coinsurance_percent,
        "out_of_pocket_remaining_cents": f.out_of_pocket_remaining_cents,
    }


async def on_benefit_check(
    ctx: Context, req: BenefitCheckRequested, *, cfg: EligibilitySettings
) -> None:
    row = {
        "patient_id": req.patient_id,
        "payer_id": req.payer_id,
        "date_of_service": req.date_of_service,
        "requested_by": req.requested_by,
        "state": "pending" if cfg.realtime else "failed",
        "problem": None if cfg.realtime else NO_REALTIME,
    }
    await queue_benefit_check(ctx.conn, ctx.meta.tenant, req.check_id, req.model_dump_json(), row)


@dataclass
class _Ask:
    tenant: str
    check_id: str
    attempts: int
    req: BenefitCheckRequested
    trace: str = ""
    request: str = ""
    outcome: dict[str, Any] | None = None


class DeskChecks:
    """The timer that asks the payers the front desk's questions."""

    def __init__(self, cfg: EligibilitySettings, s: Settings, transport: Transport) -> None:
        self.cfg = cfg
        self.settings = s
        self.transport = transport

    async def ask_due(self, svc: Service) -> int:
        assert svc.pool is not None
        async with svc.pool.acquire() as conn, conn.transaction():
            rows = await due_benefit_checks(conn, self.cfg.batch)
            if not rows:
                return 0
            icns = await inquiry_control_numbers(conn, len(rows))
            asks = [self._prepare(r, icn) for r, icn in zip(rows, icns, strict=True)]
            sem = asyncio.Semaphore(self.cfg.concurrency)
            await asyncio.gather(*(self._call(sem, a) for a in asks))
            for a in asks:
                assert a.outcome is not None
                await record_benefit_answer(conn, a.tenant, a.check_id, a.outcome)
            return len(rows)

    def _prepare(self, row: Any, icn: int) -> _Ask:
        req = BenefitCheckRequested.model_validate_json(row["request"])
        ask = _Ask(row["tenant"], row["check_id"], int(row["attempts"]), req, f"{icn:09d}")
        s = self.settings
        ask.request = write_270(
            inquiry(req, ask.trace),
            envelope=envelope_for(s, icn),
        )
        return ask

    async def _call(self, sem: asyncio.Semaphore, ask: _Ask) -> None:
        sent = {"request_x12": ask.request}
        async with sem:
            try:
                text = await asyncio.wait_for(
                    self.transport(ask.request, payer=ask.req.payer_id),
                    timeout=self.cfg.timeout_s,
                )
            except (TimeoutError, PayerUnavailable):
                ask.outcome = self._again(ask, sent, "the payer did not answer in time")
                return
            except InquiryRejected as exc:
                problem = f"the clearinghouse refused the 270: {exc}"
                ask.outcome = {**sent, "state": "failed", "problem": problem[:500]}
                return
        sent["response_x12"] = text
        try:
            inq = inquiry(ask.req, ask.trace)
            out = answer(response_for(parse_271(text), ask.trace), inq.service_types)
        except X12Error as exc:
            ask.outcome = {**sent, "state": "failed", "problem": f"unreadable 271: {exc}"[:500]}
            return
        if out["state"] == "pending":
            ask.outcome = self._again(ask, sent, str(out["problem"]))
            return
        ask.outcome = {**sent, **out}

    def _again(self, ask: _Ask, sent: dict[str, Any], why: str) -> dict[str, Any]:
        """Ask again after the backoff; after the last attempt, fail saying why."""
        attempts = ask.attempts + 1
        if attempts >= self.cfg.max_attempts:
            problem = f"no answer after {attempts} tries ({why}); ask again later or call the payer"
            return {**sent, "state": "failed", "problem": problem[:500]}
        return {
            **sent,
            "state": "pending",
            "problem": why[:500],
            "retry_s": self.cfg.backoff(attempts),
        }
