"""The HTTP gateway: EHR intake (native JSON and FHIR R4), work queues, claims, KPIs.

Every route but /healthz needs a bearer API key; every query is filtered by the key's
tenant. /openapi.json is published to authenticated callers.
"""

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from enum import StrEnum
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.settings import Settings, settings
from schemas.common import Coverage, IcdCode, Person, ServiceLine
from schemas.events import EncounterCreated
from schemas.events_coverage import CoverageReported
from schemas.events_payments import PatientPaymentReceived
from schemas.states import ClaimState
from services.gateway import intake, ops, queries
from services.gateway.config import GatewaySettings
from services.gateway.core import AuditEntry, Gateway, Unavailable, _Write, sha
from services.gateway.keys import Principal, bearer
from services.gateway.keys import Scope as KeyScope

DESCRIPTION = """
The HTTP door of RCM Pipeline. Authenticate with `Authorization: Bearer <API key>`;
a key belongs to one tenant and carries scopes: `intake` (encounters, FHIR, payments),
`read` (claims, work queues, KPIs), `work` (fixes, payments), `ops` (lag, funnel,
denials, A/R aging and the dashboard under /v1/ops: counts and sums, no patient data),
`admin` (all). The dashboard (GET /v1/ops/dashboard) also takes the HttpOnly session
cookie that POST /v1/ops/login (the sign-in form) or a one-time link from
POST /v1/ops/tickets opens. GET /metrics takes the ops token (RCM_OPS_TOKEN).
A claim of another tenant answers 404. Writes answer 202 only after Kafka acknowledged
the event (acks=all); when Kafka or the database cannot take it, 503 with Retry-After.
Send `Idempotency-Key` on writes: a retry with the same key and body gets the first
answer and sends nothing new. Field errors answer 422 with paths and messages only.
Every read and write of patient data is written to a hash-chained audit log.
"""

KPI_DESCRIPTION = """
KPIs of the caller's tenant over claims whose date of service is in [from, to].
Rates are decimal strings with 4 places (null when the denominator is zero).

- **days_in_ar**: open A/R ÷ average daily charges of the 90 days up to `as_of`.
  Open A/R = Σ max(total charge − payer paid − payer adjustments (CO/OA/PI), 0) over the
  tenant's claims that were coded and are not CLOSED or HELD (all dates of service).
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


class Json(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class Queue(StrEnum):
    holds = "holds"
    rejections = "rejections"
    denials = "denials"
    unmatched = "unmatched"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CodesFix(Strict):
    diagnoses: list[IcdCode] = Field(min_length=1, max_length=12)
    lines: list[ServiceLine] = Field(min_length=1, max_length=50)


class CoverageFix(Strict):
    coverages: list[Coverage] = Field(max_length=3, description="Empty: self-pay")


class DemographicsFix(Strict):
    patient: Person | None = None
    guarantor: Person | None = None


class CoverageRow(Strict):
    patient_id: str = Field(min_length=1, max_length=64)
    coverage: Coverage


class CoverageUpload(Strict):
    """Up to 1,000 coverages; all are checked before any is sent."""

    coverages: list[CoverageRow] = Field(min_length=1, max_length=1000)


class ClaimVoid(Strict):
    """Why the claim is voided (kept on the claim's timeline and in the audit log)."""

    reason: str = Field(min_length=1, max_length=500)


class ClaimFix(Strict):
    """What a person corrected. Codes re-enter at coding; coverage or demographics at
    eligibility (and so does any fix of a claim that never passed eligibility)."""

    codes: CodesFix | None = None
    coverage: CoverageFix | None = None
    demographics: DemographicsFix | None = None
    note: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _something(self) -> "ClaimFix":
        d = self.demographics
        if (
            self.codes is None
            and self.coverage is None
            and (d is None or (d.patient is None and d.guarantor is None))
        ):
            raise ValueError("a fix changes codes, coverage or demographics")
        return self

    def changes(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.codes is not None:
            out["diagnoses"] = list(self.codes.diagnoses)
            out["lines"] = [x.model_dump(mode="json") for x in self.codes.lines]
        if self.coverage is not None:
            out["coverages"] = [c.model_dump(mode="json") for c in self.coverage.coverages]
        if self.demographics is not None:
            if self.demographics.patient is not None:
                out["patient"] = self.demographics.patient.model_dump(mode="json")
            if self.demographics.guarantor is not None:
                out["guarantor"] = self.demographics.guarantor.model_dump(mode="json")
        return out


class Accepted(BaseModel):
    encounter_id: str
    claim_id: str
    status: str = Field(description="accepted, or duplicate when it had come already")


class FieldError(BaseModel):
    loc: str
    msg: str
    type: str = ""


class Problem(BaseModel):
    error: str
    errors: list[FieldError] = Field(default_factory=list)


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No or bad bearer token"},
    403: {"model": Problem, "description": "The key lacks the scope"},
    413: {"model": Problem, "description": "Body too large"},
    422: {"model": Problem, "description": "Field-level errors, no input values"},
    429: {"model": Problem, "description": "Rate limit of the key; see Retry-After"},
    503: {"model": Problem, "description": "Kafka or the database unavailable; see Retry-After"},
}


class BodyLimit:
    """Answers 413 for bodies over the limit, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_target = scope.get("raw_path") or b""
        if b"%00" in raw_target or b"%00" in (scope.get("query_string") or b""):
            await _reply(send, 422, "NUL characters are not allowed in the path or query")
            return
        for name, value in scope.get("headers") or []:
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = True
                if too_big:
                    await _reply(send, 413, "request body too large")
                    return
        seen = 0
        tail = b""

        async def limited() -> Message:
            nonlocal seen, tail
            msg = await receive()
            if msg["type"] == "http.request":
                chunk = msg.get("body", b"")
                seen += len(chunk)
                if seen > self.limit:
                    raise HTTPException(413, "request body too large")
                # PostgreSQL text cannot hold NUL; refuse it before anything is sent.
                window = tail + chunk
                if b"\\u0000" in window or b"\x00" in window:
                    raise HTTPException(422, "NUL characters are not allowed in the body")
                tail = window[-5:]
            return msg

        await self.app(scope, limited, send)


async def _reply(send: Send, status: int, error: str) -> None:
    body = orjson.dumps({"error": error, "errors": []})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_app(s: Settings | None = None, g: GatewaySettings | None = None) -> FastAPI:
    s = s or settings()
    g = g or GatewaySettings()
    gw = Gateway(s, g)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await gw.start()
        try:
            yield
        finally:
            await gw.stop()

    app = FastAPI(
        title="RCM Pipeline gateway",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        default_response_class=Json,
    )
    app.state.gateway = gw
    app.add_middleware(BodyLimit, limit=g.max_body_bytes)
    security = HTTPBearer(auto_error=False, description="An API key: rcm keys create")

    def need(*scopes: KeyScope) -> Callable[..., Awaitable[Principal]]:
        async def dependency(
            creds: Annotated[HTTPAuthorizationCredentials | None, Depends(security)],
        ) -> Principal:
            token = bearer(f"{creds.scheme} {creds.credentials}") if creds else None
            if token is None:
                raise HTTPException(401, "missing bearer token")
            p: Principal | None = await gw.guarded(lambda: gw.principal(token))
            if p is None:
                raise HTTPException(401, "unknown or revoked API key")
            if scopes and not p.allows(*scopes):
                raise HTTPException(403, f"the key needs scope {' or '.join(scopes)}")
            wait = gw.rate.allow(p.key_id, p.rate_per_s)
            if wait:
                raise RateLimited(wait)
            return p

        return dependency

    # --- errors --------------------------------------------------------------------

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors()[:50]:
            errors.append(
                {
                    "loc": ".".join(str(p) for p in err.get("loc", ())),
                    "msg": str(err.get("msg", "")),
                    "type": str(err.get("type", "")),
                }
            )
        return Json({"error": "invalid request", "errors": errors}, status_code=422)

    @app.exception_handler(intake.Invalid)
    async def on_invalid_fields(request: Request, exc: intake.Invalid) -> JSONResponse:
        return Json({"error": "invalid request", "errors": exc.errors}, status_code=422)

    @app.exception_handler(HTTPException)
    async def on_http(request: Request, exc: HTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return Json(
            {"error": str(exc.detail), "errors": []}, status_code=exc.status_code, headers=headers
        )

    @app.exception_handler(Unavailable)
    async def on_unavailable(request: Request, exc: Unavailable) -> JSONResponse:
        return Json(
            {"error": f"{exc}; nothing was accepted, retry", "errors": []},
            status_code=503,
            headers={"Retry-After": str(g.retry_after_s)},
        )

    @app.exception_handler(intake.Conflict)
    async def on_conflict(request: Request, exc: intake.Conflict) -> JSONResponse:
        return Json({"error": str(exc), "errors": []}, status_code=409)

    @app.exception_handler(RateLimited)
    async def on_rate(request: Request, exc: RateLimited) -> JSONResponse:
        return Json(
            {"error": "rate limit of this API key exceeded", "errors": []},
            status_code=429,
            headers={"Retry-After": str(max(1, int(exc.wait + 0.999)))},
        )

    # --- idempotency ---------------------------------------------------------------

    async def idempotent(
        request: Request,
        p: Principal,
        key: str | None,
        route: str,
        run: Callable[[intake.Extra], Awaitable[dict[str, Any]]],
        status: int = 202,
        encounter_id: str | None = None,
    ) -> JSONResponse:
        if key is None:
            return Json(await run(intake.nothing), status_code=status)
        request_hash = sha(route.encode() + b"\x00" + await request.body())
        first = await gw.idem_begin(p.tenant, key, route, request_hash, encounter_id)
        if first == "mismatch":
            raise HTTPException(422, "Idempotency-Key was used with a different request")
        if first == "pending":
            raise HTTPException(409, "a request with this Idempotency-Key is in progress")
        if isinstance(first, tuple):
            return Json(first[1], status_code=first[0], headers={"Idempotent-Replay": "true"})
        tenant = p.tenant

        def done(answer: dict[str, Any]) -> list[_Write]:
            return [gw.idem_done(tenant, key, status, answer)]

        try:
            body = await run(done)
        except BaseException:
            await gw.idem_abandon(p.tenant, key)
            raise
        return Json(body, status_code=status)

    IdemKey = Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            pattern=r"^[\x21-\x7e]+$",
            description="A retry with the same key and body gets the first answer",
        ),
    ]

    # --- routes ----------------------------------------------------------------------

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        ok = gw.pool is not None
        return Json(
            {"service": "gateway", "ok": ok, "kafka": gw.kafka_ready()},
            status_code=200 if ok else 503,
        )

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(p: Annotated[Principal, Depends(need())]) -> JSONResponse:
        return Json(app.openapi())

    @app.post(
        "/v1/encounters",
        status_code=202,
        response_model=Accepted,
        responses={**ERRORS, 409: {"model": Problem, "description": "Same id, other content"}},
        summary="Send an encounter (the native EncounterCreated schema)",
    )
    async def post_encounter(
        request: Request,
        enc: EncounterCreated,
        p: Annotated[Principal, Depends(need(KeyScope.intake))],
        idempotency_key: IdemKey = None,
    ) -> JSONResponse:
        actor = intake.Actor(p.tenant, p.key_id)
        return await idempotent(
            request,
            p,
            idempotency_key,
            "encounters",
            lambda extra: intake.encounter(gw, actor, enc, extra=extra),
            encounter_id=enc.encounter_id,
        )

    @app.post(
        "/v1/fhir",
        status_code=202,
        responses={**ERRORS},
        summary="Send a FHIR R4 Bundle (Encounter, Patient, Coverage, Condition, Procedure or Claim, Practitioner, Organization)",
        description="Each Encounter becomes encounter.created, or claim.held(stage=coding) with the reasons"
        " when its codes are not ICD-10-CM, CPT or HCPCS or data is missing. See docs/fhir-mapping.md.",
    )
    async def post_fhir(
        request: Request,
        bundle: Annotated[dict[str, Any], BodyOf("A FHIR R4 Bundle (JSON)")],
        p: Annotated[Principal, Depends(need(KeyScope.intake))],
        dry_run: Annotated[bool, Query(description="Map and report, send nothing")] = False,
        idempotency_key: IdemKey = None,
    ) -> JSONResponse:
        actor = intake.Actor(p.tenant, p.key_id)

        return await idempotent(
            request,
            p,
            idempotency_key,
            "fhir",
            lambda extra: intake.bundle(gw, actor, bundle, dry_run=dry_run, extra=extra),
        )

    @app.post(
        "/v1/coverages",
        status_code=202,
        responses={**ERRORS},
        summary="Bulk coverage upload: each row is recorded by eligibility with history",
    )
    async def post_coverages(
        request: Request,
        body: CoverageUpload,
        p: Annotated[Principal, Depends(need(KeyScope.intake))],
        idempotency_key: IdemKey = None,
    ) -> JSONResponse:
        actor = intake.Actor(p.tenant, p.key_id)
        rows = [
            CoverageReported(patient_id=r.patient_id, coverage=r.coverage, source="gateway")
            for r in body.coverages
        ]
        return await idempotent(
            request,
            p,
            idempotency_key,
            "coverages",
            lambda extra: intake.coverages(gw, actor, rows, extra),
        )

    @app.post(
        "/v1/payments",
        status_code=202,
        responses={**ERRORS, 404: {"model": Problem, "description": "Unknown claim"}},
        summary="Record a patient payment (idempotent by payment_id)",
    )
    async def post_payment(
        request: Request,
        ev: PatientPaymentReceived,
        p: Annotated[Principal, Depends(need(KeyScope.work, KeyScope.intake))],
        idempotency_key: IdemKey = None,
    ) -> JSONResponse:
        actor = intake.Actor(p.tenant, p.key_id)
        if ev.claim_id is not None:
            found = await gw.guarded(
                lambda: gw.pool.fetchval(  # type: ignore[union-attr]
                    f"SELECT 1 FROM {g.claims_schema}.claims WHERE claim_id = $1 AND tenant = $2",
                    ev.claim_id,
                    p.tenant,
                )
            )
            if not found:
                raise HTTPException(404, "no such claim")
        return await idempotent(
            request,
            p,
            idempotency_key or f"payment:{ev.payment_id}",
            "payments",
            lambda extra: intake.payment(gw, actor, ev, extra),
        )

    @app.get(
        "/v1/workqueues/{queue}",
        responses={**ERRORS},
        summary="Claims waiting for a person: held, rejected, denied; unposted remittance",
    )
    async def get_queue(
        queue: Queue,
        p: Annotated[Principal, Depends(need(KeyScope.read, KeyScope.work))],
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> JSONResponse:
        async def run() -> list[dict[str, Any]]:
            assert gw.pool is not None
            async with gw.pool.acquire() as conn:
                return await queries.work_queue(conn, g, p.tenant, queue.value, limit)

        items = await gw.guarded(run)
        await gw.audit(
            AuditEntry(p.tenant, p.key_id, f"workqueue.read.{queue.value}", f"{len(items)} items")
        )
        return Json({"queue": queue.value, "items": items})

    async def on_claim(
        request: Request,
        p: Principal,
        idempotency_key: str | None,
        action: str,
        call: Callable[[intake.Actor, intake.Extra], Awaitable[dict[str, Any] | None]],
    ) -> JSONResponse:
        """A work-queue action on one claim: idempotent, 404 when not this tenant's."""
        actor = intake.Actor(p.tenant, p.key_id)

        async def run(extra: intake.Extra) -> dict[str, Any]:
            out: dict[str, Any] | None = await gw.guarded(lambda: call(actor, extra))
            if out is None:
                raise HTTPException(404, "no such claim")
            return out

        return await idempotent(request, p, idempotency_key, action, run)

    @app.post(
        "/v1/claims/{claim_id}/fix",
        status_code=202,
        responses={
            **ERRORS,
            404: {"model": Problem, "description": "No such claim for this tenant"},
            409: {
                "model": Problem,
                "description": "Not fixable here (state, or unknown encounter)",
            },
        },
        summary="Fix a held, rejected or denied claim: it re-enters the flow (claim.fixed)",
    )
    async def post_fix(
        request: Request,
        claim_id: Annotated[str, Path(min_length=1, max_length=64)],
        body: ClaimFix,
        p: Annotated[Principal, Depends(need(KeyScope.work))],
        idempotency_key: IdemKey = None,
    ) -> JSONResponse:
        return await on_claim(
            request,
            p,
            idempotency_key,
            f"fix:{claim_id}",
            lambda actor, extra: intake.fix(gw, actor, claim_id, body.changes(), body.note, extra),
        )

    @app.post(
        "/v1/claims/{claim_id}/void",
        status_code=202,
        responses={
            **ERRORS,
            404: {"model": Problem, "description": "No such claim for this tenant"},
            409: {"model": Problem, "description": "Not adjudicated by the payer: nothing to void"},
        },
        summary="Void a claim the payer adjudicated: it goes out with frequency 8 and REF*F8",
    )
    async def post_void(
        request: Request,
        claim_id: Annotated[str, Path(min_length=1, max_length=64)],
        body: ClaimVoid,
        p: Annotated[Principal, Depends(need(KeyScope.work))],
        idempotency_key: IdemKey = None,
    ) -> JSONResponse:
        return await on_claim(
            request,
            p,
            idempotency_key,
            f"void:{claim_id}",
            lambda actor, extra: intake.void(gw, actor, claim_id, body.reason, extra),
        )

    @app.get(
        "/v1/claims/{claim_id}",
        responses={**ERRORS, 404: {"model": Problem, "description": "No such claim"}},
        summary="A claim's state and timeline",
    )
    async def get_claim(
        claim_id: Annotated[str, Path(min_length=1, max_length=64)],
        p: Annotated[Principal, Depends(need(KeyScope.read))],
    ) -> JSONResponse:
        async def run() -> tuple[dict[str, Any], str] | None:
            assert gw.pool is not None
            async with gw.pool.acquire() as conn:
                return await queries.claim(conn, g, p.tenant, claim_id)

        found = await gw.guarded(run)
        if found is None:
            raise HTTPException(404, "no such claim")
        body, patient_id = found
        await gw.audit(AuditEntry(p.tenant, p.key_id, "claim.read", claim_id, patient_id))
        return Json(body)

    @app.get("/v1/claims", responses={**ERRORS}, summary="Search claims")
    async def search_claims(
        p: Annotated[Principal, Depends(need(KeyScope.read))],
        state: ClaimState | None = None,
        payer_id: Annotated[str | None, Query(max_length=80)] = None,
        date_from: Annotated[dt.date | None, Query(alias="from")] = None,
        date_to: Annotated[dt.date | None, Query(alias="to")] = None,
        patient_control_number: Annotated[str | None, Query(max_length=20)] = None,
        after: Annotated[
            str | None, Query(max_length=64, description="Cursor: last claim_id")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> JSONResponse:
        async def run() -> list[dict[str, Any]]:
            assert gw.pool is not None
            async with gw.pool.acquire() as conn:
                return await queries.search(
                    conn,
                    g,
                    p.tenant,
                    state=state.value if state else None,
                    payer_id=payer_id,
                    date_from=date_from,
                    date_to=date_to,
                    patient_control_number=patient_control_number,
                    after=after,
                    limit=limit,
                )

        items = await gw.guarded(run)
        await gw.audit(
            AuditEntry(
                p.tenant,
                p.key_id,
                "claims.search",
                ",".join(i["claim_id"] for i in items[:10]) or "none",
                detail=f"{len(items)} claims",
            )
        )
        nxt = items[-1]["claim_id"] if len(items) == limit else None
        return Json({"items": items, "next": nxt})

    @app.get(
        "/v1/kpis", responses={**ERRORS}, summary="Revenue-cycle KPIs", description=KPI_DESCRIPTION
    )
    async def get_kpis(
        p: Annotated[Principal, Depends(need(KeyScope.read))],
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

    ops.install(app, gw, s, g, RateLimited)
    return app


class RateLimited(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__("rate limited")
        self.wait = wait


def BodyOf(description: str) -> Any:
    from fastapi import Body

    return Body(description=description, media_type="application/json")
