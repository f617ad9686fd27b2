"""What the write routes do, apart from HTTP: used by the app and by `rcm fhir import`.

Order of effects for every write: Kafka acknowledges the event first (acks=all), then
one group-committed transaction stores the gateway's copy, the audit row and the
idempotency answer. A failure before the ack sends nothing that counts (the caller
gets 503 and retries); a failure after it is retried with the same ce_id, which every
consumer has already seen, so nothing is lost and nothing is applied twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from pydantic import ValidationError

from schemas.common import HoldReason
from schemas.events import ClaimHeld, EncounterCreated, Stage
from schemas.events_coverage import CoverageReported
from schemas.events_payments import PatientPaymentReceived
from schemas.events_workqueue import ClaimFixed, ClaimVoidRequested, Reentry
from schemas.ids import claim_id_for
from services.gateway import directory, fhir, fhir_providers
from services.gateway.core import AuditEntry, Gateway, _Write, event_id, sha
from services.gateway.outgoing import send_audited


class Conflict(Exception):
    """The request contradicts what the gateway already holds (409)."""


class Invalid(Exception):
    """Field-level problems (422); ``errors`` never carry input values."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(f"{len(errors)} invalid fields")
        self.errors = errors


def field_errors(exc: ValidationError, prefix: tuple[str, ...] = ("body",)) -> list[dict[str, str]]:
    out = []
    for err in exc.errors(include_input=False, include_url=False)[:50]:
        loc = [*prefix, *(str(p) for p in err["loc"])]
        out.append({"loc": ".".join(loc), "msg": err["msg"], "type": err["type"]})
    return out


@dataclass(frozen=True, slots=True)
class Actor:
    tenant: str
    who: str  # API key id, or cli:<user>


Extra = Callable[[dict[str, Any]], list[_Write]]


def nothing(answer: dict[str, Any]) -> list[_Write]:
    return []


def _body(model: Any) -> tuple[dict[str, Any], bytes]:
    body = model.model_dump(mode="json")
    return body, orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


async def encounter(
    gw: Gateway,
    actor: Actor,
    enc: EncounterCreated,
    *,
    source: str = "json",
    extra: Extra = nothing,
) -> dict[str, Any]:
    body, raw = _body(enc)
    h = sha(raw)
    claim_id = claim_id_for(actor.tenant, enc.encounter_id)
    answer = {"encounter_id": enc.encounter_id, "claim_id": claim_id, "status": "accepted"}
    known = await gw.known_encounter(actor.tenant, enc.encounter_id)
    if known is not None:
        if known != h:
            raise Conflict(
                f"encounter {enc.encounter_id} was already received with other content;"
                f" correct it with POST /v1/claims/{claim_id}/fix"
            )
        answer = {**answer, "status": "duplicate"}
        await gw.commit([_audit(actor, "encounter.create", enc, "duplicate"), *extra(answer)])
        return answer
    await gw.send(
        enc,
        tenant=actor.tenant,
        correlation_id=claim_id,
        ce_id=event_id(actor.tenant, "encounter", enc.encounter_id, raw),
        actor=actor.who,
    )
    await gw.commit(
        [
            gw.store_encounter(
                tenant=actor.tenant,
                encounter_id=enc.encounter_id,
                claim_id=claim_id,
                patient_id=enc.patient.id,
                source=source,
                status="accepted",
                body_hash=h,
                body=body,
            ),
            _audit(actor, "encounter.create", enc, "accepted"),
            *extra(answer),
        ]
    )
    return answer


def _audit(actor: Actor, action: str, enc: EncounterCreated, outcome: str) -> _Write:
    return Gateway.audit_write(
        AuditEntry(
            actor.tenant,
            actor.who,
            action,
            enc.encounter_id,
            enc.patient.id,
            outcome,
            claim_ids=(claim_id_for(actor.tenant, enc.encounter_id),),
        )
    )


async def held_encounter(gw: Gateway, actor: Actor, m: fhir.Mapped) -> dict[str, Any]:
    """A FHIR encounter that cannot be billed as sent: claim.held(stage=coding) with why."""
    raw = orjson.dumps(m.draft, option=orjson.OPT_SORT_KEYS)
    h = sha(raw)
    claim_id = claim_id_for(actor.tenant, m.encounter_id)
    answer = {
        "encounter_id": m.encounter_id,
        "claim_id": claim_id,
        "status": "held",
        "reasons": [r.model_dump() for r in m.holds],
    }
    audit = Gateway.audit_write(
        AuditEntry(
            actor.tenant,
            actor.who,
            "encounter.create",
            m.encounter_id,
            m.patient_id,
            "held",
            claim_ids=(claim_id,),
        )
    )
    known = await gw.known_encounter(actor.tenant, m.encounter_id)
    if known is not None:
        if known != h:
            raise Conflict(f"encounter {m.encounter_id} was already received with other content")
        await gw.commit([audit])
        return {**answer, "status": "duplicate"}
    held = ClaimHeld(
        claim_id=claim_id, encounter_id=m.encounter_id, stage=Stage.coding, reasons=m.holds
    )
    await gw.send(
        held,
        tenant=actor.tenant,
        correlation_id=claim_id,
        ce_id=event_id(actor.tenant, "held", m.encounter_id, raw),
        actor=actor.who,
    )
    await gw.commit(
        [
            gw.store_encounter(
                tenant=actor.tenant,
                encounter_id=m.encounter_id,
                claim_id=claim_id,
                patient_id=m.patient_id,
                source="fhir",
                status="held",
                body_hash=h,
                body=m.draft,
            ),
            audit,
        ]
    )
    return answer


async def bundle(
    gw: Gateway, actor: Actor, body: Any, *, dry_run: bool, extra: Extra = nothing
) -> dict[str, Any]:
    """Each Encounter sent or held; the bundle's providers upserted to the directory first
    (a bundle of providers only is 0 encounters); providers an encounter names by
    reference only are found in the tenant's directory."""
    try:
        idx = fhir.Index(body)
        providers = fhir_providers.directory_entries(idx)
        known = await directory.lookup(gw, actor.tenant, fhir_providers.wanted_keys(idx))
        mapped = fhir.map_bundle(idx, known)
    except fhir.BundleError as exc:
        raise Invalid(exc.errors) from exc
    if providers and not dry_run:
        await gw.commit([directory.upsert(actor.tenant, e) for e in providers])
    out = {**fhir.summary(mapped), "providers": len(providers)}
    results = []
    for m in mapped:
        claim_id = claim_id_for(actor.tenant, m.encounter_id)
        if dry_run:
            status = "held" if m.held else "accepted"
            results.append(
                {
                    "encounter_id": m.encounter_id,
                    "claim_id": claim_id,
                    "status": status,
                    "reasons": [r.model_dump() for r in m.holds],
                }
            )
            continue
        try:
            if m.encounter is not None:
                results.append(await encounter(gw, actor, m.encounter, source="fhir"))
            else:
                results.append(await held_encounter(gw, actor, m))
        except Conflict as exc:
            results.append(
                {
                    "encounter_id": m.encounter_id,
                    "claim_id": claim_id,
                    "status": "conflict",
                    "reasons": [
                        {"code": "CONFLICT", "message": str(exc), "fix": "use the fix route"}
                    ],
                }
            )
    out["results"] = results
    out["dry_run"] = dry_run
    writes = extra(out)
    if writes:
        await gw.commit(writes)
    return out


async def payment(
    gw: Gateway, actor: Actor, ev: PatientPaymentReceived, extra: Extra = nothing
) -> dict[str, Any]:
    answer = {"payment_id": ev.payment_id, "status": "accepted"}
    entry = AuditEntry(
        actor.tenant,
        actor.who,
        "payment.create",
        ev.payment_id,
        ev.guarantor_id,
        claim_ids=(ev.claim_id,) if ev.claim_id else (),
    )
    await send_audited(
        gw,
        ev,
        entry,
        correlation_id=ev.claim_id or ev.payment_id,
        ce_id=event_id(actor.tenant, "payment", ev.payment_id, b""),
        extra=extra(answer),
    )
    return answer


FIXABLE = {"HELD", "REJECTED", "DENIED"}
#: A claim the payer paid in part or in full (a denied or reduced line): corrected as a
#: replacement (frequency 7, REF*F8), so only with the payer's claim number.
CORRECTABLE = {"PAID", "PARTIALLY_PAID", "PATIENT_BILLED", "CLOSED"}


async def _fixable(
    gw: Gateway, actor: Actor, claim_id: str
) -> tuple[asyncpg.Record, dict[str, Any], bool] | None:
    """The claim, the encounter this gateway took it from, and whether it was ever
    eligible; None when the claim is not the tenant's. Conflict when it cannot be fixed
    here."""
    assert gw.pool is not None
    c = gw.g.claims_schema
    async with gw.pool.acquire() as conn:
        claim = await conn.fetchrow(
            f"SELECT state, state_since, encounter_id, payer_claim_number FROM {c}.claim_v1"
            " WHERE claim_id = $1 AND tenant = $2",
            claim_id,
            actor.tenant,
        )
        if claim is None:
            return None
        row = await conn.fetchrow(
            "SELECT encounter_id, body, status FROM encounters WHERE tenant = $1 AND claim_id = $2",
            actor.tenant,
            claim_id,
        )
        eligible_before = await conn.fetchval(
            f"SELECT bool_or(to_state = 'ELIGIBLE') FROM {c}.claim_timeline_v1 WHERE claim_id = $1",
            claim_id,
        )
    correctable = claim["state"] in CORRECTABLE and bool(claim["payer_claim_number"])
    if claim["state"] not in FIXABLE and not correctable:
        raise Conflict(
            f"claim {claim_id} is {claim['state']}; only held, rejected or denied claims, or"
            " claims a payer paid (with its claim number), are fixed"
        )
    if row is None:
        raise Conflict(
            f"the encounter of claim {claim_id} did not come through this gateway;"
            " fix it in the system that sent it"
        )
    draft = orjson.loads(row["body"]) if isinstance(row["body"], str) else dict(row["body"])
    return claim, draft, bool(eligible_before)


async def fix(
    gw: Gateway,
    actor: Actor,
    claim_id: str,
    changes: dict[str, Any],
    note: str,
    extra: Extra = nothing,
) -> dict[str, Any] | None:
    """None when the claim is not the tenant's. ``changes`` maps encounter fields to values."""
    found = await _fixable(gw, actor, claim_id)
    if found is None:
        return None
    claim, draft, eligible_before = found
    draft.update(changes)
    try:
        corrected = EncounterCreated.model_validate(draft)
    except ValidationError as exc:
        raise Invalid(field_errors(exc, ("encounter",))) from exc
    changed = sorted(changes)
    codes_only = set(changed) <= {"diagnoses", "lines"}
    reenter = Reentry.coding if codes_only and eligible_before else Reentry.eligibility
    ev = ClaimFixed(
        claim_id=claim_id,
        encounter_id=corrected.encounter_id,
        reenter=reenter,
        fixed_by=actor.who,
        fixed_at=dt.datetime.now(dt.UTC),
        note=note,
        encounter=corrected,
        changed=changed,
    )
    body, raw = _body(corrected)
    answer = {
        "claim_id": claim_id,
        "encounter_id": corrected.encounter_id,
        "reenter": reenter.value,
        "changed": changed,
        "status": "accepted",
    }
    await gw.send(
        ev,
        tenant=actor.tenant,
        correlation_id=claim_id,
        ce_id=event_id(actor.tenant, "fix", f"{claim_id}|{claim['state_since'].isoformat()}", raw),
        actor=actor.who,
    )
    await gw.commit(
        [
            gw.store_encounter(
                tenant=actor.tenant,
                encounter_id=corrected.encounter_id,
                claim_id=claim_id,
                patient_id=corrected.patient.id,
                source="fix",
                status="accepted",
                body_hash=sha(raw),
                body=body,
            ),
            Gateway.audit_write(
                AuditEntry(
                    actor.tenant,
                    actor.who,
                    "claim.fix",
                    claim_id,
                    corrected.patient.id,
                    detail=",".join(changed),
                    claim_ids=(claim_id,),
                )
            ),
            *extra(answer),
        ]
    )
    return answer


async def coverages(
    gw: Gateway, actor: Actor, rows: list[CoverageReported], extra: Extra = nothing
) -> dict[str, Any]:
    """A bulk coverage upload: one coverage.reported per row, each audited for its patient."""
    for ev in rows:
        raw = ev.model_dump_json().encode()
        await gw.send(
            ev,
            tenant=actor.tenant,
            correlation_id=ev.patient_id,
            ce_id=event_id(actor.tenant, "coverage", ev.patient_id, raw),
            actor=actor.who,
        )
    answer = {"accepted": len(rows), "status": "accepted"}
    await gw.commit(
        [
            *(
                Gateway.audit_write(
                    AuditEntry(
                        actor.tenant,
                        actor.who,
                        "coverage.write",
                        f"{ev.coverage.payer_id}",
                        ev.patient_id,
                    )
                )
                for ev in rows
            ),
            *extra(answer),
        ]
    )
    return answer


VOIDABLE = {"PAID", "PARTIALLY_PAID", "DENIED", "PATIENT_BILLED", "CLOSED"}


async def void(
    gw: Gateway, actor: Actor, claim_id: str, reason: str, extra: Extra = nothing
) -> dict[str, Any] | None:
    """Asks the claims service to void an adjudicated claim (frequency 8). None when the
    claim is not the tenant's."""
    assert gw.pool is not None
    async with gw.pool.acquire() as conn:
        claim = await conn.fetchrow(
            f"SELECT state, state_since, payer_claim_number FROM {gw.g.claims_schema}.claim_v1"
            " WHERE claim_id = $1 AND tenant = $2",
            claim_id,
            actor.tenant,
        )
    if claim is None:
        return None
    if claim["state"] not in VOIDABLE or not claim["payer_claim_number"]:
        raise Conflict(
            f"claim {claim_id} is {claim['state']} with no payer claim number; only claims the"
            " payer adjudicated can be voided"
        )
    ev = ClaimVoidRequested(
        claim_id=claim_id,
        requested_by=actor.who,
        requested_at=dt.datetime.now(dt.UTC),
        reason=reason,
    )
    answer = {"claim_id": claim_id, "frequency_code": "8", "status": "accepted"}
    entry = AuditEntry(
        actor.tenant, actor.who, "claim.void", claim_id, detail=reason[:200], claim_ids=(claim_id,)
    )
    await send_audited(
        gw,
        ev,
        entry,
        correlation_id=claim_id,
        ce_id=event_id(
            actor.tenant, "void", f"{claim_id}|{claim['state_since'].isoformat()}", reason.encode()
        ),
        extra=extra(answer),
    )
    return answer


__all__ = [
    "Actor",
    "Conflict",
    "HoldReason",
    "Invalid",
    "bundle",
    "coverages",
    "encounter",
    "fix",
    "payment",
    "void",
]
