"""/statements/view/{token}: the page a statement email links to.

The link (signed by the statements service with RCM_STATEMENT_LINK_KEY, runtime/
signed_links.py) names one statement until it expires; it is a capability, not the whole
authentication: the page shows nothing until the visitor gives the account holder's last
name and ZIP code, and failed tries are limited per client and per statement like failed
API keys. Every view and every refused try is in the audit log under the link's
statement. No cookies, so there is nothing for another site to ride on."""

from __future__ import annotations

import datetime as dt
import html

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from runtime import signed_links
from services.gateway import forms
from services.gateway.core import AuditEntry
from services.gateway.deps import Config, Guard, Gw, RcmSettings
from services.gateway.errors import RateLimited

router = APIRouter(include_in_schema=False)

#: The same purpose the statements service signs with (services/statements/delivery.py).
PURPOSE = "statement"
ACTOR = "statement-link"

_VIEW = (
    "SELECT d.statement_id, d.tenant, d.html, d.last_name, d.postal_code, s.guarantor_id,"
    " s.claim_ids FROM {schema}.statement_delivery_v1 d JOIN {schema}.statement_v1 s"
    " USING (statement_id) WHERE d.statement_id = $1 AND d.status = 'sent'"
    " AND d.channel = 'email'"
)
_PAGE = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
    "<meta name='viewport' content='width=device-width,initial-scale=1'>"
    "<title>{title}</title><style>body{{font-family:Helvetica,Arial,sans-serif;"
    "max-width:32rem;margin:3rem auto;padding:0 1rem;color:#111}}label{{display:block;"
    "margin-top:1rem}}input{{font-size:1rem;padding:.4rem;width:100%}}button{{margin-top:"
    "1.2rem;font-size:1rem;padding:.5rem 1.2rem}}.err{{color:#900}}</style></head><body>"
    "<main><h1>{title}</h1>{body}</main></body></html>"
)


#: The pages' own styles inline, the form posting back here, nothing else.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self';"
    " frame-ancestors 'none'; base-uri 'none'"
)


def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status, headers={"content-security-policy": CSP})


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return _html(_PAGE.format(title=html.escape(title), body=body), status)


def _form(error: str = "") -> str:
    err = f"<p class='err' role='alert'>{html.escape(error)}</p>" if error else ""
    return (
        "<p>To see your statement, enter the account holder's last name and ZIP code, as"
        " they are on your statements.</p>" + err + "<form method='post'>"
        "<label for='last_name'>Last name</label>"
        "<input id='last_name' name='last_name' autocomplete='family-name' required"
        " maxlength='60'><label for='postal_code'>ZIP code</label>"
        "<input id='postal_code' name='postal_code' autocomplete='postal-code' required"
        " inputmode='numeric' maxlength='10'><button type='submit'>Show my statement</button>"
        "</form>"
    )


def _gone() -> HTMLResponse:
    return _page(
        "This link does not work",
        "<p>This link is not valid or has expired. Please call your practice's billing"
        " office; the number is on your paper statements.</p>",
        404,
    )


def _statement_id(s: RcmSettings, token: str) -> str | None:
    key = s.statement_link_key.get_secret_value().encode()
    try:
        return signed_links.read(key, PURPOSE, token, dt.datetime.now(dt.UTC).date())
    except signed_links.BadLink:
        return None


@router.get("/statements/view/{token}", response_class=HTMLResponse)
async def view_form(token: str, s: RcmSettings) -> HTMLResponse:
    if _statement_id(s, token) is None:
        return _gone()
    return _page("Your statement", _form())


def _fields(raw: bytes) -> tuple[str, str]:
    form = forms.parse(raw[:2000])
    return forms.first(form, "last_name")[:60], forms.first(form, "postal_code")[:10]


@router.post("/statements/view/{token}", response_class=HTMLResponse)
async def view_statement(
    request: Request, token: str, s: RcmSettings, g: Config, gw: Gw, guard: Guard
) -> HTMLResponse:
    sid = _statement_id(s, token)
    if sid is None:
        return _gone()
    last_name, postal_code = _fields(await request.body())
    names = ["client:" + guard.proxies.client(request), "statement:" + sid]
    if wait := guard.wait(names):
        raise RateLimited(wait, "too many tries for this statement; see Retry-After")
    assert gw.pool is not None
    row = await gw.pool.fetchrow(_VIEW.format(schema=g.statements_schema), sid)
    if row is None:
        return _gone()
    given = (last_name.strip().casefold(), postal_code.strip()[:5])
    matched = given == (str(row["last_name"]).casefold(), row["postal_code"])
    await gw.audit(
        AuditEntry(
            row["tenant"],
            ACTOR,
            "statement.view",
            sid,
            patient_id=row["guarantor_id"],
            outcome="ok" if matched else "denied",
            claim_ids=tuple(row["claim_ids"]),
        )
    )
    if not matched:
        guard.failed(names)
        return _page("Your statement", _form("Those details do not match our records."), 403)
    return _html(str(row["html"]))
