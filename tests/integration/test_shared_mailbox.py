"""Two practices (tenants) share one clearinghouse mailbox, as a billing company's one
account serves many: claims builds each tenant's 837, the simulated clearinghouse answers
from the mailbox's server side, and the answers come back marked ``shared`` under the
account's tenant (neither practice). Claims routes each 999/277CA answer to the tenant of
the interchange it names, remittance each 835 to the tenant its claims were sent for:
each tenant's claims are acknowledged and paid, and neither sees the other's remittance.
A 999 naming an interchange no tenant sent, and an 835 paying two tenants' claims, are
dead-lettered with the reason."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from runtime.service import Record, Service
from runtime.settings import Settings
from schemas.codec import decode, encode, new_meta
from schemas.events import (
    ClaimAcknowledged,
    ClaimAdjudicated,
    ClaimCoded,
    ClaimSubmitted,
    Event,
    RemitReceived,
)
from schemas.events_transport import X12FileReceived, X12FileSent, X12InterchangeReady
from services.claims.config import ClaimsSettings
from services.claims.directory import import_payers
from services.claims.payers import parse
from services.connector import envelope
from services.remittance import app as remittance_app
from services.remittance.config import RemittanceSettings
from services.simulator import app as simulator_app
from services.simulator.config import RosterSettings, SimulatorSettings
from services.simulator.mailbox import Clearinghouse
from services.simulator.timers import PayerCycle
from tests.integration.claims_world import DIRECTORY, Claims, claims_service, coded
from tests.throwaway import throwaway_service
from tests.unit import factories as f

pytestmark = pytest.mark.integration

A, B, ACCOUNT = "sh-north", "sh-south", "billing-co"
#: each practice is its own payee (billing NPI): an 835 pays one of them
NPI = {A: "1234567893", B: "1245319599"}


class World:
    def __init__(self, claims: Claims, remit: Service, sim: Service, house: Clearinghouse):
        self.claims, self.remit, self.sim, self.house = claims, remit, sim, house
        self.offset = 1000

    def record(self, ev: Event, tenant: str) -> Record:
        self.offset += 1
        enc = encode(ev, new_meta(ev, source="test", tenant=tenant, correlation_id=ev.key()))
        return Record(ev.TOPIC, 0, self.offset, enc.key, enc.value, enc.headers)

    async def outbox(self, svc: Service, topic: str) -> list[tuple[str, Event]]:
        """(tenant, event) of each event the service wrote for ``topic``."""
        assert svc.pool is not None
        rows = await svc.pool.fetch(
            "SELECT value, headers FROM outbox WHERE topic = $1 ORDER BY id", topic
        )
        out = []
        for r in rows:
            headers = [(k, base64.b64decode(v)) for k, v in orjson.loads(r["headers"])]
            msg = decode(r["value"], headers)
            out.append((msg.meta.tenant, msg.event))
        return out

    async def deliver(self, *, tenant_of_account: str = ACCOUNT) -> None:
        """The connector's poll: every file of the inbound folder published as shared."""
        for path in sorted((self.house.root / "inbound").iterdir()):
            data = path.read_bytes()
            env = envelope.check(data)
            text = data.decode()
            if env.kind == "835":
                ev: Event = RemitReceived(
                    trace_number=env.trace_number, payer_id=env.payer_id,
                    source=f"sftp:{path.name}", x12=text, shared=True,
                )  # fmt: skip
                await self.remit.process(ev.TOPIC, [self.record(ev, tenant_of_account)])
            else:
                ev = X12FileReceived(
                    sha256=hashlib.sha256(data).hexdigest(), kind=env.kind,
                    interchange_control_number=env.control_number, sender_id=env.sender,
                    receiver_id=env.receiver, transactions=env.transactions,
                    source=f"sftp:{path.name}", x12=text, shared=True,
                )  # fmt: skip
                await self.claims.svc.process(ev.TOPIC, [self.record(ev, tenant_of_account)])
            path.unlink()

    async def dead(self, svc: Service) -> list[str]:
        assert svc.pool is not None
        return [r["reason"] for r in await svc.pool.fetch("SELECT reason FROM dead_letters")]


@pytest.fixture
async def world(live_stack: Settings, tmp_path: Path) -> AsyncIterator[World]:
    root = tmp_path / "chroot"
    for d in ("outbound", "inbound"):
        (root / d).mkdir(parents=True)
    cfg = SimulatorSettings(delay_s=0, denial_rate=0, mailbox_dir=root, mailbox_poll_s=3600)
    pay = PayerCycle(cfg)

    def wire_sim(s: Service) -> None:
        simulator_app.wire(s, cfg, RosterSettings(), cycle=pay, cycle_poll_s=3600)

    def wire_remit(s: Service) -> None:
        remittance_app.wire(s, RemittanceSettings())

    async with (
        claims_service(live_stack, ClaimsSettings(batch_window_s=0), tenant=A) as claims,
        throwaway_service("remittance", remittance_app.MIGRATIONS, wire_remit, live_stack) as rs,
        throwaway_service("simulator", simulator_app.MIGRATIONS, wire_sim, live_stack) as sim,
    ):
        assert claims.svc.pool is not None
        async with claims.svc.pool.acquire() as conn:
            await import_payers(conn, B, parse(DIRECTORY))
        yield World(claims, rs, sim, Clearinghouse(cfg, root, pay))


def claim_of(tenant: str, n: int) -> ClaimCoded:
    # a recent preventive visit: Medicare pays it in full (no deductible)
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=5)
    return coded(
        n,
        "MCR01",
        billing_provider=f.billing_provider(npi=NPI[tenant]),
        date_of_service=day,
        lines=[f.line(procedure_code="99396", charge_cents=26000, service_date=day)],
        total_charge_cents=26000,
    )


async def submit_both(w: World) -> dict[str, str]:
    """Each tenant's claim built into its own 837, uploaded (x12.file-sent), its
    claim.submitted indexed by remittance and its file in the mailbox; claim id -> tenant."""
    claims = {A: claim_of(A, 1), B: claim_of(B, 2)}
    for tenant, c in claims.items():
        await w.claims.svc.process(c.TOPIC, [w.record(c, tenant)])
    await w.claims.batcher.send_batches(w.claims.svc)
    for tenant, ev in await w.outbox(w.claims.svc, X12InterchangeReady.TOPIC):
        assert isinstance(ev, X12InterchangeReady)
        icn = ev.interchange_control_number
        digest = hashlib.sha256(ev.x12.encode()).hexdigest()
        sent = X12FileSent(
            interchange_control_number=icn, account=ACCOUNT, name=f"{icn}.837",
            sha256=digest, attempts=1,
        )  # fmt: skip
        await w.claims.svc.process(sent.TOPIC, [w.record(sent, tenant)])
        (w.house.root / "outbound" / f"{icn}.837").write_text(ev.x12)
    for tenant, sub in await w.outbox(w.claims.svc, ClaimSubmitted.TOPIC):
        await w.remit.process(sub.TOPIC, [w.record(sub, tenant)])
    return {c.claim_id: t for t, c in claims.items()}


async def test_two_tenants_sharing_a_mailbox_each_get_their_own_answers_and_payments(
    world: World,
) -> None:
    w = world
    tenant_of = await submit_both(w)
    await w.house(w.sim)  # the clearinghouse reads both 837s, writes 999s and 277CAs
    await w.deliver()
    acks = await w.outbox(w.claims.svc, ClaimAcknowledged.TOPIC)
    assert sorted((a.claim_id, a.kind.value, a.accepted, t) for t, a in acks) == sorted(  # type: ignore[attr-defined]
        (cid, kind, True, tenant) for cid, tenant in tenant_of.items() for kind in ("999", "277CA")
    )
    assert await w.dead(w.claims.svc) == []

    assert await w.house.payers(w.sim) == 2  # type: ignore[misc]
    await w.house(w.sim)  # one 835 per payee: two files
    assert len(list((w.house.root / "inbound").iterdir())) == 2
    await w.deliver()
    paid = await w.outbox(w.remit, ClaimAdjudicated.TOPIC)
    assert sorted((a.claim_id, t) for t, a in paid) == sorted(tenant_of.items())  # type: ignore[attr-defined]
    assert all(a.paid_cents > 0 for _, a in paid)  # type: ignore[attr-defined]
    assert w.remit.pool is not None
    # each tenant's remittance holds its own 835 only; the account's tenant holds none
    rows = await w.remit.pool.fetch("SELECT tenant, status FROM remits ORDER BY tenant")
    assert [tuple(r) for r in rows] == [(A, "posted"), (B, "posted")]
    assert await w.dead(w.remit) == []


async def test_answers_naming_what_no_tenant_sent_are_dead_lettered_with_the_reason(
    world: World,
) -> None:
    w = world
    await submit_both(w)
    # the two practices' claims in one 837 under one payee: the payer's 835 pays both
    both = sorted((w.house.root / "outbound").iterdir())
    texts = [p.read_text() for p in both]
    for p in both:
        p.unlink()
    mixed = texts[0].replace(NPI[A], NPI[B])  # the first practice's claim, the other's payee
    (w.house.root / "outbound" / "mixed.837").write_text(mixed)
    (w.house.root / "outbound" / "second.837").write_text(texts[1])
    await w.house(w.sim)
    for p in (w.house.root / "inbound").iterdir():
        if p.name.endswith(".999"):  # answers a group no tenant sent
            p.write_text(p.read_text().replace("AK1*HC*", "AK1*HC*99"))
        else:
            p.unlink()
    await w.deliver()
    assert set(await w.dead(w.claims.svc)) == {"unknown-interchange"}
    await w.house.payers(w.sim)  # type: ignore[misc]
    await w.house(w.sim)
    await w.deliver()
    assert await w.dead(w.remit) == ["several-tenants"]
    assert w.remit.pool is not None
    assert await w.remit.pool.fetchval("SELECT count(*) FROM remits") == 0
