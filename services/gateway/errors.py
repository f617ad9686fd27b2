"""How the gateway answers what it refuses: one JSON shape (Problem) for every error,
field errors without input values, 413 for large bodies, Retry-After on 429 and 503."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway import intake
from services.gateway.core import Unavailable


class Json(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


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
    429: {
        "model": Problem,
        "description": "Rate limit of the key, or too many failed authentications; Retry-After",
    },
    503: {"model": Problem, "description": "Kafka or the database unavailable; see Retry-After"},
}


def problem(status: int, description: str) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": Problem, "description": description}}


class RateLimited(Exception):
    def __init__(self, wait: float, error: str = "rate limit of this API key exceeded") -> None:
        super().__init__("rate limited")
        self.wait = wait
        self.error = error


def add_handlers(app: FastAPI, retry_after_s: int) -> None:
    """Every refusal as a Problem: 401 names the Bearer scheme, 429 and 503 Retry-After."""

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": ".".join(str(p) for p in err.get("loc", ())),
                "msg": str(err.get("msg", "")),
                "type": str(err.get("type", "")),
            }
            for err in exc.errors()[:50]
        ]
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
            headers={"Retry-After": str(retry_after_s)},
        )

    @app.exception_handler(intake.Conflict)
    async def on_conflict(request: Request, exc: intake.Conflict) -> JSONResponse:
        return Json({"error": str(exc), "errors": []}, status_code=409)

    @app.exception_handler(RateLimited)
    async def on_rate(request: Request, exc: RateLimited) -> JSONResponse:
        return Json(
            {"error": exc.error, "errors": []},
            status_code=429,
            headers={"Retry-After": str(max(1, int(exc.wait + 0.999)))},
        )


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
