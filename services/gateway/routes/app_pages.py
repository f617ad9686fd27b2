"""The billing office's pages under /app/: home, work queues, a claim and its fix.

Every page needs a signed-in person (``web.Person``) with the right the page names;
every page that shows patient data writes an audit row under the person's id.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response

from services.gateway import app_queries, claim_files, queries
from services.gateway.app_queries import QUEUES, QueueFilter
from services.gateway.claim_work import claim_work
from services.gateway.core import AuditEntry
from services.gateway.deps import Config, Gw
from services.gateway.users import Right
from services.gateway.web import PageError, Person, need, render

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent.parent / "static"
ClaimId = Annotated[str, PathParam(min_length=1, max_length=64)]


def ago(at: dt.datetime | None) -> str:
    """'3 d 4 h', '12 min': how long ago, for a person."""
    if at is None:
        return ""
    s = max(0, int((dt.datetime.now(dt.UTC) - at).total_seconds()))
    if s >= 86400:
        return f"{s // 86400} d {s % 86400 // 3600} h"
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 60} min" if s >= 60 else f"{s} s"


@router.get("/app/static/htmx.min.js")
async def htmx(user: Person) -> Response:
    return FileResponse(STATIC / "htmx.min.js", media_type="text/javascript")


@router.get("/app/")
async def home(request: Request, gw: Gw, g: Config, user: Person) -> Response:
    await need(gw, user, Right.read, "app:home")

    async def run() -> list[dict[str, Any]]:
        assert gw.pool is not None
        async with gw.pool.acquire() as conn:
            return await app_queries.queue_counts(conn, g, user.tenant)

    counts = await gw.guarded(run)
    for c in counts:
        c["title"] = QUEUES[c["name"]]
        c["age"] = ago(c["oldest"])
    return render(request, "home.html", user=user, counts=counts)


@router.get("/app/queues/")
async def queues(request: Request, gw: Gw, g: Config, user: Person) -> Response:
    return await home(request, gw, g, user)


@router.get("/app/queues/{name}")
async def queue(
    request: Request,
    gw: Gw,
    g: Config,
    user: Person,
    name: Annotated[str, PathParam(max_length=20)],
    payer: Annotated[str, Query(max_length=80)] = "",
    provider: Annotated[str, Query(max_length=20)] = "",
    min_age_days: Annotated[int, Query(ge=0, le=3650)] = 0,
    min_amount: Annotated[int, Query(ge=0, le=10_000_000, description="dollars")] = 0,
    sort: Annotated[str, Query(pattern="^(age|amount)$")] = "age",
    after: Annotated[str, Query(max_length=120)] = "",
) -> Response:
    if name not in QUEUES:
        raise PageError(404, "There is no such work queue.", user)
    await need(gw, user, Right.read, f"workqueue:{name}")
    npi = provider.strip()
    if npi and not (len(npi) == 10 and npi.isdigit()):
        raise PageError(422, "A provider is named by their NPI: 10 digits.", user)
    f = QueueFilter(payer.strip(), min_age_days, min_amount * 100, sort, after, npi)

    async def run() -> tuple[list[dict[str, Any]], str]:
        assert gw.pool is not None
        async with gw.pool.acquire() as conn:
            if name == "unmatched":
                return await app_queries.unmatched_page(conn, g, user.tenant, g.queue_page), ""
            if name in app_queries.WATCH:
                return await app_queries.watch_page(conn, g, user.tenant, name, g.queue_page, after)
            return await app_queries.queue_page(conn, g, user.tenant, name, f, g.queue_page)

    items, nxt = await gw.guarded(run)
    for i in items:
        i["age"] = ago(i.get("state_since") or i.get("received_at"))
        i["claim_age"] = ago(i.get("created_at"))
    await gw.audit(
        AuditEntry(
            user.tenant,
            user.actor,
            f"app.workqueue.{name}",
            f"workqueue:{name}",
            detail=f"{len(items)} items",
            patient_ids=tuple(str(i["patient_id"]) for i in items if i.get("patient_id")),
            claim_ids=tuple(str(i["claim_id"]) for i in items if i.get("claim_id")),
        )
    )
    return render(
        request,
        "queue.html",
        user=user,
        name=name,
        title=QUEUES[name],
        items=items,
        f=f,
        min_amount=min_amount,
        next=nxt,
    )


async def load_claim(
    gw: Gw, g: Config, user: Any, claim_id: str
) -> tuple[dict[str, Any], str, dict[str, Any] | None]:
    """The claim, its patient id and its encounter; 404 (audited) when not the tenant's."""

    async def run() -> tuple[tuple[dict[str, Any], str] | None, dict[str, Any] | None]:
        assert gw.pool is not None
        async with gw.pool.acquire() as conn:
            found = await queries.claim(conn, g, user.tenant, claim_id)
            enc = await app_queries.encounter_body(conn, g, user.tenant, claim_id)
            return found, enc

    found, enc = await gw.guarded(run)
    if found is None:
        await gw.audit(
            AuditEntry(
                user.tenant,
                user.actor,
                "app.claim",
                claim_id,
                outcome="denied:404",
                claim_ids=(claim_id,),
            )
        )
        raise PageError(404, "There is no such claim.", user)
    claim, patient_id = found
    return claim, patient_id, enc


def version(claim: dict[str, Any]) -> str:
    """What the page was built from: the claim's state and since when."""
    return f"{claim['state']}@{claim['state_since']}"


@router.get("/app/claims/{claim_id}")
async def claim_page(
    request: Request, gw: Gw, g: Config, user: Person, claim_id: ClaimId
) -> Response:
    claim, patient_id, enc = await load_claim(gw, g, user, claim_id)
    await need(gw, user, Right.read, claim_id)
    await gw.audit(
        AuditEntry(
            user.tenant, user.actor, "app.claim", claim_id, patient_id, claim_ids=(claim_id,)
        )
    )
    return render(
        request,
        "claim.html",
        user=user,
        claim=claim,
        enc=enc,
        files=await claim_x12(gw, g, user.tenant, claim_id),
        work=await claim_work(gw, user.tenant, claim_id),
        version=version(claim),
        errors={},
        changed="",
        sent=request.query_params.get("sent", ""),
    )


async def claim_x12(gw: Gw, g: Config, tenant: str, claim_id: str) -> dict[str, Any]:
    """The 837s the claim went out in and the 835s that paid it, as a person reads them."""

    async def run() -> dict[str, Any]:
        assert gw.pool is not None
        async with gw.pool.acquire() as conn:
            return {
                "sent": await claim_files.sent_837s(conn, g, tenant, claim_id),
                "paid": await claim_files.posted_835s(conn, g, tenant, claim_id),
            }

    found: dict[str, Any] = await gw.guarded(run)
    return found
