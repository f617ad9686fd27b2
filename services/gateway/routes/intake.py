"""POST /v1/encounters (the native schema) and POST /v1/fhir (a FHIR R4 Bundle)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse

from schemas.events import EncounterCreated
from services.gateway import intake
from services.gateway.deps import Gw, IdemKey, IntakeKey, idempotent
from services.gateway.errors import ERRORS, problem
from services.gateway.models import Accepted, FhirAccepted

router = APIRouter()


@router.post(
    "/v1/encounters",
    status_code=202,
    response_model=Accepted,
    responses={**ERRORS, **problem(409, "Same id, other content")},
    summary="Send an encounter (the native EncounterCreated schema)",
)
async def post_encounter(
    request: Request,
    enc: EncounterCreated,
    gw: Gw,
    p: IntakeKey,
    idempotency_key: IdemKey = None,
) -> JSONResponse:
    actor = intake.Actor(p.tenant, p.key_id)
    return await idempotent(
        gw,
        request,
        p,
        idempotency_key,
        "encounters",
        lambda extra: intake.encounter(gw, actor, enc, extra=extra),
        encounter_id=enc.encounter_id,
    )


@router.post(
    "/v1/fhir",
    status_code=202,
    response_model=FhirAccepted,
    responses={**ERRORS},
    summary="Send a FHIR R4 Bundle (Encounter, Patient, Coverage, Condition, Procedure or"
    " Claim, Practitioner, PractitionerRole, Organization, Location)",
    description="Each Encounter becomes encounter.created, or claim.held(stage=coding) with the"
    " reasons when its codes are not ICD-10-CM, CPT or HCPCS or data is missing. Its"
    " Organization, Practitioner and Location resources go to the tenant's provider directory"
    " (GET /v1/providers), which completes encounters that name their providers by reference"
    " only; a bundle of providers only is 0 encounters. See docs/fhir-mapping.md.",
)
async def post_fhir(
    request: Request,
    bundle: Annotated[
        dict[str, Any],
        Body(description="A FHIR R4 Bundle (JSON)", media_type="application/json"),
    ],
    gw: Gw,
    p: IntakeKey,
    dry_run: Annotated[bool, Query(description="Map and report, send nothing")] = False,
    idempotency_key: IdemKey = None,
) -> JSONResponse:
    actor = intake.Actor(p.tenant, p.key_id)
    return await idempotent(
        gw,
        request,
        p,
        idempotency_key,
        "fhir",
        lambda extra: intake.bundle(gw, actor, bundle, dry_run=dry_run, extra=extra),
    )
