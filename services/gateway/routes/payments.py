"""POST /v1/payments: a patient payment, idempotent by payment_id."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from schemas.events_payments import PatientPaymentReceived
from services.gateway import intake
from services.gateway.denials import known_claim
from services.gateway.deps import Config, Gw, IdemKey, PaymentKey, idempotent
from services.gateway.errors import ERRORS, problem
from services.gateway.models import PaymentAccepted

router = APIRouter()

# The event contract leaves these open; the gateway's door does not (every identifier it
# takes is bounded, as encounter, patient and payment ids are in the contract).
ID_MAX = 64


@router.post(
    "/v1/payments",
    status_code=202,
    response_model=PaymentAccepted,
    responses={**ERRORS, **problem(404, "Unknown claim")},
    summary="Record a patient payment (idempotent by payment_id)",
)
async def post_payment(
    request: Request,
    ev: PatientPaymentReceived,
    gw: Gw,
    g: Config,
    p: PaymentKey,
    idempotency_key: IdemKey = None,
) -> JSONResponse:
    too_long = [
        {"loc": f"body.{name}", "msg": f"at most {ID_MAX} characters", "type": "string_too_long"}
        for name in ("guarantor_id", "claim_id")
        if len(getattr(ev, name) or "") > ID_MAX
    ]
    if too_long:
        raise intake.Invalid(too_long)
    actor = intake.Actor(p.tenant, p.key_id)
    await known_claim(gw, request, p, g.claims_schema, ev.claim_id)
    return await idempotent(
        gw,
        request,
        p,
        idempotency_key or f"payment:{ev.payment_id}",
        "payments",
        lambda extra: intake.payment(gw, actor, ev, extra),
        tenant_wide=idempotency_key is None,  # a payment_id is the tenant's, whoever posts it
    )
