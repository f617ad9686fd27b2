"""The coding service's handlers on the real PostgreSQL: edit tables loaded from the
schema, a claim held by NCCI and re-coded after a fix, wellness-visit history, loaders."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from runtime.service import Record, Service
from runtime.settings import Settings
from schemas.codec import decode, encode, new_meta
from schemas.common import Documentation, ServiceLine, VisitType
from schemas.events import ClaimCoded, ClaimHeld, EligibilityChecked, EncounterCreated, Event
from schemas.events_workqueue import ClaimFixed, Reentry
from services.coding import app, ncci, repository, timers
from services.coding.tables import LoadedTables
from tests.builders import encounter
from tests.unit.factories import person

pytestmark = pytest.mark.integration

TENANT = "it-clinic"
DOS = dt.date(2026, 4, 6)


@pytest.fixture
def loaded() -> LoadedTables:
    """The edit tables the service under test scrubs with."""
    return LoadedTables()


@pytest.fixture
async def svc(live_stack: Settings, loaded: LoadedTables) -> AsyncIterator[Service]:
    service = app.build(
        live_stack, schema=f"it_{uuid.uuid4().hex[:8]}", http_port=6197, tables=loaded
    )
    await service.start_resources()  # runs the startup hook: ICD-10-CM, tables from PG
    try:
        yield service
    finally:
        assert service.pool is not None
        await service.pool.execute(f"DROP SCHEMA {service.schema} CASCADE")
        await service.stop_resources()


class Feed:
    def __init__(self, svc: Service) -> None:
        self.svc = svc
        self.offset = 0

    async def send(self, event: Event, correlation_id: str) -> None:
        await self.send_batch([(event, correlation_id)])

    async def send_batch(self, events: list[tuple[Event, str]]) -> None:
        """Events of one topic consumed as one batch."""
        recs = []
        for event, correlation_id in events:
            meta = new_meta(event, source="test", tenant=TENANT, correlation_id=correlation_id)
            x = encode(event, meta)
            self.offset += 1
            recs.append(Record(event.TOPIC, 0, self.offset, x.key, x.value, x.headers))
        await self.svc.process(events[0][0].TOPIC, recs)

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        assert self.svc.pool is not None
        return list(await self.svc.pool.fetch(sql, *args))

    async def outbox(self) -> list[Event]:
        out = []
        for r in await self.fetch("SELECT value, headers FROM outbox ORDER BY id"):
            headers = [(k, base64.b64decode(v)) for k, v in orjson.loads(r["headers"])]
            out.append(decode(r["value"], headers).event)
        return out


def _encounter(eid: str, lines: list[ServiceLine], dx: list[str], **kw: Any) -> EncounterCreated:
    return encounter(
        encounter_id=eid,
        date_of_service=kw.pop("dos", DOS),
        diagnoses=dx,
        lines=lines,
        documentation=Documentation(visit_type=VisitType.problem, mdm_level="low"),
        **kw,
    )


def _checked(claim_id: str, enc: EncounterCreated) -> EligibilityChecked:
    return EligibilityChecked(
        claim_id=claim_id,
        encounter_id=enc.encounter_id,
        active=True,
        payer_id="PPO01",
        payer_name="BLUE MEADOW PPO",
        encounter=enc,
    )


def _injection(e_m_mods: list[str]) -> list[ServiceLine]:
    return [
        ServiceLine(
            procedure_code="99213",
            modifiers=e_m_mods,
            charge_cents=15000,
            diagnosis_codes=["L23.7"],
        ),
        ServiceLine(procedure_code="96372", charge_cents=4500, diagnosis_codes=["L23.7"]),
        ServiceLine(procedure_code="J1010", units=40, charge_cents=1500, diagnosis_codes=["L23.7"]),
    ]


async def test_tables_are_seeded_and_loaded_from_postgres(
    svc: Service, loaded: LoadedTables
) -> None:
    feed = Feed(svc)
    (n_ptp,) = [r[0] for r in await feed.fetch("SELECT count(*) FROM ncci_ptp")]
    (n_mue,) = [r[0] for r in await feed.fetch("SELECT count(*) FROM ncci_mue")]
    assert n_ptp == len(ncci.bundled_ptp())
    assert n_mue == len(ncci.bundled_mue())
    tables = loaded.current
    assert len(tables) == n_ptp + n_mue
    assert tables.ptp_on("96372", "99213", DOS) is not None


async def test_a_held_claim_is_coded_again_after_a_fix(svc: Service) -> None:
    feed = Feed(svc)
    enc = _encounter("E-INJ-1", _injection([]), ["L23.7"])
    await feed.send(_checked("C-INJ-1", enc), "C-INJ-1")

    (held,) = await feed.outbox()
    assert isinstance(held, ClaimHeld)
    assert held.claim_id == "C-INJ-1"
    assert [r.code for r in held.reasons] == ["NCCI-PTP"]
    assert "modifier 25" in held.reasons[0].fix

    fixed = ClaimFixed(
        claim_id="C-INJ-1",
        encounter_id="E-INJ-1",
        reenter=Reentry.coding,
        fixed_by="coder-7",
        fixed_at=dt.datetime(2026, 4, 7, 9, 0, tzinfo=dt.UTC),
        encounter=enc.model_copy(update={"lines": _injection(["25"])}),
        changed=["lines"],
    )
    await feed.send(fixed, "C-INJ-1")
    _, coded = await feed.outbox()
    assert isinstance(coded, ClaimCoded)
    assert coded.claim_id == "C-INJ-1"
    assert coded.payer_id == "PPO01"  # carried over from the stored eligibility.checked
    assert coded.lines[0].modifiers == ["25"]
    assert coded.total_charge_cents == 21000
    assert coded.findings == []

    results = await feed.fetch(
        "SELECT outcome, trigger, code_sets FROM coding_results WHERE claim_id = $1 ORDER BY id",
        "C-INJ-1",
    )
    assert [(r["outcome"], r["trigger"]) for r in results] == [
        ("held", "eligibility"),
        ("coded", "fix"),
    ]
    assert orjson.loads(results[1]["code_sets"])["icd10cm"] == "ICD-10-CM FY2026, April 1 update"
    history = await feed.fetch(
        "SELECT procedure_code FROM patient_services WHERE claim_id = $1 ORDER BY 1", "C-INJ-1"
    )
    assert [r[0] for r in history] == ["96372", "99213", "J1010"]


async def test_a_fix_for_eligibility_is_not_coded_and_an_unknown_claim_is_dead_lettered(
    svc: Service,
) -> None:
    feed = Feed(svc)
    enc = _encounter("E-X", _injection(["25"]), ["L23.7"])
    base = {
        "claim_id": "C-NEVER",
        "encounter_id": "E-X",
        "fixed_by": "coder-7",
        "fixed_at": dt.datetime(2026, 4, 7, tzinfo=dt.UTC),
        "encounter": enc,
    }
    await feed.send(ClaimFixed(reenter=Reentry.eligibility, **base), "C-NEVER")
    assert await feed.outbox() == []
    await feed.send(ClaimFixed(reenter=Reentry.coding, **base), "C-NEVER")
    dead = await feed.fetch("SELECT reason FROM dead_letters")
    assert [r[0] for r in dead] == ["unknown-claim"]


def _wellness_visits(n: int) -> tuple[EncounterCreated, EncounterCreated]:
    """A senior's subsequent annual wellness visit (G0439) in April and again in
    September: the second is within a year of the first."""
    senior = person(id=f"MRN-AWV-{n}", birth_date=dt.date(1955, 2, 3))
    awv = [ServiceLine(procedure_code="G0439", charge_cents=19000, diagnosis_codes=["Z00.00"])]
    first = _encounter(f"E-AWV-{n}1", awv, ["Z00.00"], patient=senior, dos=dt.date(2026, 4, 6))
    again = _encounter(f"E-AWV-{n}2", awv, ["Z00.00"], patient=senior, dos=dt.date(2026, 9, 1))
    return first, again


async def test_subsequent_wellness_visit_within_a_year_is_held(svc: Service) -> None:
    feed = Feed(svc)
    first, again = _wellness_visits(1)
    await feed.send(_checked("C-AWV-1", first), "C-AWV-1")
    await feed.send(_checked("C-AWV-2", again), "C-AWV-2")
    # the first claim coded again (a redelivered pass) is not its own history
    await feed.send(_checked("C-AWV-1", first), "C-AWV-1")
    one, two, one_again = await feed.outbox()
    assert isinstance(one, ClaimCoded)
    assert isinstance(two, ClaimHeld)
    assert [r.code for r in two.reasons] == ["EM-AWV-FREQUENCY"]
    assert "2026-04-06" in two.reasons[0].message
    assert isinstance(one_again, ClaimCoded)
    # another patient's visit does not count
    other = _encounter(
        "E-AWV-3", first.lines, ["Z00.00"], patient=person(id="MRN-AWV-2"), dos=dt.date(2026, 9, 1)
    )
    await feed.send(_checked("C-AWV-3", other), "C-AWV-3")
    assert isinstance((await feed.outbox())[-1], ClaimCoded)


async def test_a_new_release_is_loaded_and_picked_up_by_the_timer(
    svc: Service, loaded: LoadedTables
) -> None:
    assert svc.pool is not None
    text = (
        "Column 1\tColumn 2\t*=in existence prior to 1996\tEffective Date\t"
        "Deletion Date *=no data\tModifier\tPTP Edit Rationale\n"
        "96372\t99213\t\t20130101\t20260101\t1\tMisuse of column two code with column one code\n"
    )
    async with svc.pool.acquire() as conn, conn.transaction():
        assert await repository.replace_ptp(conn, ncci.parse_ptp(text), "q2.txt") == 1
        mue = ncci.parse_mue("36415,2,3 Date of Service Edit: Clinical,x\n", dt.date(2026, 4, 1))
        assert await repository.load_mue(conn, mue, dt.date(2026, 4, 1), "mue-q2.csv") == 1
    await timers.reload_tables(svc, loaded=loaded)
    tables = loaded.current
    assert len(tables.ptp) == 1
    assert tables.ptp_on("96372", "99213", DOS) is None  # deleted 2026-01-01
    assert tables.ptp_on("96372", "99213", dt.date(2025, 12, 31)) is not None
    new = tables.mue_on("36415", DOS)
    old = tables.mue_on("36415", dt.date(2026, 3, 31))
    assert new is not None
    assert old is not None
    assert (new.value, old.value) == (2, 1)  # the bundled quarter ended on 2026-04-01

    feed = Feed(svc)
    enc = _encounter("E-INJ-2", _injection([]), ["L23.7"])
    await feed.send(_checked("C-INJ-2", enc), "C-INJ-2")
    (coded,) = await feed.outbox()
    assert isinstance(coded, ClaimCoded)  # the pair's edit is no longer in force


async def test_wellness_history_counts_within_one_batch(svc: Service) -> None:
    """The same visits as above arriving in one batch: the second sees the first."""
    feed = Feed(svc)
    first, again = _wellness_visits(9)
    await feed.send_batch(
        [
            (_checked("C-AWV-91", first), "C-AWV-91"),
            (_checked("C-AWV-92", again), "C-AWV-92"),
            (_checked("C-AWV-91", first), "C-AWV-91"),
        ]
    )
    one, two, one_again = await feed.outbox()
    assert isinstance(one, ClaimCoded)
    assert isinstance(two, ClaimHeld)
    assert [r.code for r in two.reasons] == ["EM-AWV-FREQUENCY"]
    assert isinstance(one_again, ClaimCoded)
    services = await feed.fetch(
        "SELECT claim_id, procedure_code FROM patient_services WHERE patient_id = 'MRN-AWV-9'"
    )
    assert [tuple(r) for r in services] == [("C-AWV-91", "G0439")]  # a held claim has none
    passes = await feed.fetch("SELECT claim_id, outcome FROM coding_results ORDER BY id")
    assert [tuple(r) for r in passes] == [
        ("C-AWV-91", "coded"),
        ("C-AWV-92", "held"),
        ("C-AWV-91", "coded"),
    ]
