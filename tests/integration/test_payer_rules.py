"""Payer rules as data on the real stack: `rcm code load-payer-rules` into the coding
schema, picked up by a running coding service; a claim needing prior authorization is
held without it, and with it goes out through the claims service's 837P with REF*G1
that pyx12 accepts; a frequency limit counts the patient's services for the payer."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from rcm import cli
from rcm.cli_payer_rules import DEMO_RULES, load_rules, version_of
from runtime.service import Record, Service
from runtime.settings import Settings
from schemas.codec import decode, encode, new_meta
from schemas.common import Documentation, ServiceLine, VisitType
from schemas.events import ClaimCoded, ClaimHeld, EligibilityChecked, EncounterCreated, Event
from schemas.events_workqueue import ClaimFixed, Reentry
from services.claims.config import ClaimsSettings
from services.claims.directory import import_payers
from services.claims.payers import parse
from services.coding import app, timers
from services.coding.payer_rules import RuleFileError
from services.coding.rulebook import LoadedRules
from tests.builders import encounter
from tests.integration.claims_world import DIRECTORY, claims_service
from tests.pyx12check import problems
from tests.unit.factories import coverage, person

pytestmark = pytest.mark.integration

TENANT = "t1"  # the claims world's tenant: the claim goes on to its claims service
DOS = dt.date(2026, 4, 6)


@pytest.fixture
def rules() -> LoadedRules:
    return LoadedRules()


@pytest.fixture
async def svc(live_stack: Settings, rules: LoadedRules) -> AsyncIterator[Service]:
    service = app.build(
        live_stack, schema=f"it_{uuid.uuid4().hex[:8]}", http_port=6193, rules=rules
    )
    await service.start_resources()
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
        meta = new_meta(event, source="test", tenant=TENANT, correlation_id=correlation_id)
        x = encode(event, meta)
        self.offset += 1
        rec = Record(event.TOPIC, 0, self.offset, x.key, x.value, x.headers)
        await self.svc.process(event.TOPIC, [rec])

    async def outbox(self) -> list[Any]:
        assert self.svc.pool is not None
        out = []
        for r in await self.svc.pool.fetch("SELECT value, headers FROM outbox ORDER BY id"):
            headers = [(k, base64.b64decode(v)) for k, v in orjson.loads(r["headers"])]
            out.append(decode(r["value"], headers).event)
        return out


async def load_demo_file(s: Settings, svc: Service, rules: LoadedRules, name: str) -> str:
    text = (DEMO_RULES / name).read_text(encoding="utf-8")
    said = await load_rules(s, TENANT, text, version_of(name, text), schema=svc.schema)
    await timers.reload_rules(svc, loaded=rules)  # what the service's timer does
    return said


def checked(claim_id: str, enc: EncounterCreated) -> EligibilityChecked:
    cov = enc.coverages[0]
    return EligibilityChecked(
        claim_id=claim_id,
        encounter_id=enc.encounter_id,
        active=True,
        payer_id=cov.payer_id,
        payer_name=cov.payer_name,
        encounter=enc,
    )


def mri(eid: str) -> EncounterCreated:
    return encounter(
        encounter_id=eid,
        date_of_service=DOS,
        diagnoses=["M54.16"],
        lines=[ServiceLine(procedure_code="72148", charge_cents=90000, diagnosis_codes=["M54.16"])],
        documentation=Documentation(visit_type=VisitType.procedure),
    )


async def test_a_claim_needing_prior_auth_is_held_without_it_and_goes_out_with_ref_g1(
    live_stack: Settings, svc: Service, rules: LoadedRules, tmp_path: Path
) -> None:
    said = await load_demo_file(live_stack, svc, rules, "PPO01.csv")
    assert said.startswith(f"loaded 6 payer rules for {TENANT} (PPO01 6)")
    feed = Feed(svc)
    enc = mri("E-MRI-1")
    await feed.send(checked("C-MRI-1", enc), "C-MRI-1")
    (held,) = await feed.outbox()
    assert isinstance(held, ClaimHeld)
    assert [r.code for r in held.reasons] == ["PRIOR-AUTH"]
    assert [(f.edit, f.line) for f in held.findings if f.severity == "hold"] == [("PRIOR-AUTH", 1)]
    assert "line 1: payer PPO01 requires prior authorization for '72148'" in held.reasons[0].message
    assert "REF*G1" in held.reasons[0].fix

    fix = ClaimFixed(
        claim_id="C-MRI-1",
        encounter_id="E-MRI-1",
        reenter=Reentry.coding,
        fixed_by="coder-7",
        fixed_at=dt.datetime(2026, 4, 7, 9, 0, tzinfo=dt.UTC),
        encounter=enc.model_copy(update={"prior_authorization": "PA2026-0001"}),
        changed=["prior_authorization"],
    )
    await feed.send(fix, "C-MRI-1")
    _, coded = await feed.outbox()
    assert isinstance(coded, ClaimCoded)
    assert coded.prior_authorization == "PA2026-0001"
    assert coded.lines[0].prior_authorization is None  # the claim's number, once in 2300

    cfg = ClaimsSettings(batch_window_s=0)
    async with claims_service(live_stack, cfg, http_port=6194) as claims:
        text = (DEMO_RULES / "PPO01.csv").read_text(encoding="utf-8")

        async def reload() -> list[str]:
            said = await load_rules(
                live_stack, TENANT, text, "v2", schema=svc.schema, claims_schema=claims.svc.schema
            )
            return said.splitlines()

        # the loader reads the claims room's directory through its view, payer_v1
        assert (await reload())[1:] == [
            f"note: PPO01 is not an active payer in {TENANT}'s directory (rcm payers import):"
            " a claim to it is held as PAYER-UNKNOWN before these rules matter"
        ]
        async with claims.pool.acquire() as conn:  # the tenant bills PPO01 too
            ppo = "PPO01,BLUE MEADOW PPO,CI,180,21\n"
            await import_payers(conn, TENANT, parse(DIRECTORY + ppo))
        assert len(await reload()) == 1
        await claims.send(coded)
        await claims.send_batches()
        (sent,) = await claims.submitted()
    segs = [s.split("*") for s in sent.x12.split("~")]
    i = next(k for k, s in enumerate(segs) if s[0] == "CLM")
    assert segs[i + 1] == ["REF", "G1", "PA2026-0001"]
    assert problems(tmp_path / "mri.837", sent.x12) == []


async def test_frequency_counts_the_patients_services_for_the_payer(
    live_stack: Settings, svc: Service, rules: LoadedRules
) -> None:
    await load_demo_file(live_stack, svc, rules, "MCR01.csv")
    feed = Feed(svc)
    senior = person(id="MRN-AWV", birth_date=dt.date(1952, 2, 2))
    medicare = [coverage(payer_id="MCR01", payer_name="MEDICARE PART B SIM")]

    def awv(eid: str, dos: dt.date) -> EncounterCreated:
        return encounter(
            encounter_id=eid,
            patient=senior,
            coverages=medicare,
            date_of_service=dos,
            diagnoses=["Z00.00"],
            lines=[
                ServiceLine(procedure_code="G0439", charge_cents=19000, diagnosis_codes=["Z00.00"])
            ],
            documentation=Documentation(visit_type=VisitType.preventive),
        )

    await feed.send(checked("C-AWV-1", awv("E-AWV-1", dt.date(2025, 5, 20))), "C-AWV-1")
    await feed.send(checked("C-AWV-2", awv("E-AWV-2", DOS)), "C-AWV-2")
    await feed.send(checked("C-AWV-3", awv("E-AWV-3", dt.date(2026, 5, 1))), "C-AWV-3")
    first, second, third = await feed.outbox()
    assert isinstance(first, ClaimCoded)
    assert isinstance(second, ClaimHeld)
    assert [(f.edit, f.line) for f in second.findings] == [("PAYER-FREQUENCY", 1)]
    assert "2025-05-20" in second.findings[0].message
    assert "2026-05-01" in second.reasons[0].fix  # payable again from the 12th month
    assert isinstance(third, ClaimCoded)
    assert svc.pool is not None
    rows = await svc.pool.fetch(
        "SELECT claim_id, payer_id FROM patient_services WHERE patient_id = $1 ORDER BY 1",
        "MRN-AWV",
    )
    assert [tuple(r) for r in rows] == [("C-AWV-1", "MCR01"), ("C-AWV-3", "MCR01")]


async def test_a_bad_file_loads_nothing_and_a_new_file_replaces_the_payers_rules(
    live_stack: Settings, svc: Service, rules: LoadedRules
) -> None:
    await load_demo_file(live_stack, svc, rules, "PPO01.csv")
    text = (DEMO_RULES / "PPO01.csv").read_text(encoding="utf-8")
    bad = text + "PPO01,prior-auth,7214,,,,,2026-01-01,\nPPO01,sometimes,99213,,,,,2026-01-01,\n"
    with pytest.raises(RuleFileError) as exc:
        await load_rules(live_stack, TENANT, bad, "bad", schema=svc.schema)
    n = len(text.splitlines())
    assert exc.value.problems == [
        f"row {n + 1}, column codes: '7214' is not a procedure code or a range of them",
        f"row {n + 2}, column rule: 'sometimes' is not one of covers, frequency,"
        " requires-modifier, bypass-modifiers, telehealth, prior-auth, referral",
    ]
    await timers.reload_rules(svc, loaded=rules)
    assert len(rules.book(TENANT)) == 6  # untouched

    # The payer dropped MRI from its authorization list: a new version without the row.
    fewer = "\n".join(ln for ln in text.splitlines() if "72148" not in ln) + "\n"
    await load_rules(live_stack, TENANT, fewer, "PPO01 2026-07", schema=svc.schema)
    await timers.reload_rules(svc, loaded=rules)
    assert len(rules.book(TENANT)) == 5
    assert rules.book(TENANT).version == "PPO01:PPO01 2026-07"
    feed = Feed(svc)
    await feed.send(checked("C-MRI-9", mri("E-MRI-9")), "C-MRI-9")
    (coded,) = await feed.outbox()
    assert isinstance(coded, ClaimCoded), coded


cli._register_subcommands()  # as `rcm` does: `rcm code load-payer-rules`
runner = CliRunner()


def test_the_commands_load_the_demo_rules_name_bad_rows_and_check_with_them(
    live_stack: Settings, svc: Service, tmp_path: Path
) -> None:
    for f in sorted(DEMO_RULES.glob("*.csv")):
        args = ["code", "load-payer-rules", str(f), "--tenant", TENANT, "--schema", svc.schema]
        r = runner.invoke(cli.app, args)
        assert r.exit_code == 0, r.stderr
        assert f"for {TENANT} ({f.stem} " in r.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "payer_id,rule,codes,modifiers,place_of_service,limit,related_codes,effective_date,"
        "end_date\nPPO01,frequency,99396,,,twice a year,,2026-01-01,\n"
        "PPO01,telehealth,99213,95,,,,2026-01-01,2025-12-31\n"
    )
    args = ["code", "load-payer-rules", str(bad), "--tenant", TENANT, "--schema", svc.schema]
    r = runner.invoke(cli.app, args)
    assert r.exit_code == 1
    assert "nothing loaded, 3 problems" in r.stderr
    assert "row 2, column limit: 'twice a year' is not 'N per M months'" in r.stderr
    assert "row 3, column place_of_service: is required for rule telehealth" in r.stderr
    assert "row 3, column end_date: 2025-12-31 is before effective_date 2026-01-01" in r.stderr

    enc = tmp_path / "mri.json"
    enc.write_text(mri("E-MRI-CLI").model_dump_json())
    args = ["code", "check", str(enc), "--db", "--tenant", TENANT, "--schema", svc.schema]
    r = runner.invoke(cli.app, args)
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["outcome"] == "held"
    assert [(x["edit"], x["line"]) for x in doc["findings"] if x["severity"] == "hold"] == [
        ("PRIOR-AUTH", 1)
    ]
    assert "PPO01:PPO01.csv@" in doc["code_sets"]["payer_rules"]
