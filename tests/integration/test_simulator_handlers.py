"""The simulator on the real database, fed as the clearinghouse is: 837 files in the
mailbox's outbound folder, its 999, 277CA and 835 files in the inbound folder.
Interchanges acknowledged once, one 835 per payer and payee that balances, fault knobs,
and the 276 endpoint over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from runtime.core_client import CoreRejected
from runtime.service import Service
from runtime.settings import Settings
from runtime.x12 import Envelope, cents, segments
from services.simulator import app, core_web
from services.simulator.config import RosterSettings, SimulatorSettings
from services.simulator.mailbox import Clearinghouse
from services.simulator.model import Name
from services.simulator.samples import NPI, build_set, interchange
from services.simulator.samples import Claim837 as C
from services.simulator.samples import Line837 as L
from services.simulator.timers import PayerCycle
from services.simulator.x12_276 import Party, StatusInquiry, write_276
from services.simulator.x12_277 import read_277
from tests.integration.core_world import core_endpoint
from tests.throwaway import running_timers, throwaway_service
from tests.unit.test_simulator_x12 import assert_valid

pytestmark = pytest.mark.integration

TENANT = "t-sim"
STATUS_TYPE = "X12_276_Request_005010X212"

#: Starts the simulator in a throwaway schema with these knobs (SimulatorSettings
#: fields; no delay and no random denials unless given), its mailbox in a temporary
#: folder; returns it and its payer cycle (registered with a period of an hour, the
#: mailbox's too: a test runs them when it wants).
Simulator = Callable[..., Awaitable[tuple[Service, PayerCycle]]]

#: The clearinghouse (mailbox side) of each simulator started, by id(service).
HOUSES: dict[int, Clearinghouse] = {}


@pytest.fixture
async def simulator(live_stack: Settings, tmp_path: Path) -> AsyncIterator[Simulator]:
    async with AsyncExitStack() as running:

        async def start(
            cycle: type[PayerCycle] = PayerCycle, **knobs: Any
        ) -> tuple[Service, PayerCycle]:
            root = tmp_path / f"box{len(HOUSES)}" / "chroot"
            for d in ("outbound", "inbound"):
                (root / d).mkdir(parents=True)
            defaults = {"delay_s": 0, "denial_rate": 0, "mailbox_poll_s": 3600}
            cfg = SimulatorSettings(**{**defaults, **knobs, "mailbox_dir": root})
            pay = cycle(cfg)

            def wire(s: Service) -> None:
                app.wire(s, cfg, RosterSettings(), cycle=pay, cycle_poll_s=3600)

            service = throwaway_service("simulator", app.MIGRATIONS, wire, live_stack)
            svc = await running.enter_async_context(service)
            HOUSES[id(svc)] = Clearinghouse(cfg, root, pay)
            return svc, pay

        yield start


def put(svc: Service, text: str, name: str | None = None) -> str:
    """The connector's upload: the 837 whole in the outbound folder."""
    name = name or f"SUB01_{uuid.uuid4().hex[:12]}.837"
    (HOUSES[id(svc)].root / "outbound" / name).write_text(text)
    return name


async def upload(svc: Service, text: str, name: str | None = None) -> None:
    """The 837 uploaded and taken in by the clearinghouse."""
    put(svc, text, name)
    await HOUSES[id(svc)].read(svc)


@dataclass(frozen=True)
class Answer:
    """A file the clearinghouse wrote into the inbound folder."""

    name: str
    x12: str

    @property
    def kind(self) -> str:
        return self.name.rsplit(".", 1)[1]

    @property
    def trace_number(self) -> str:
        return next(s[2] for s in segments(self.x12)[1] if s[0] == "TRN")


async def inbox(svc: Service) -> list[Answer]:
    """Writes the answers due, then takes every file of the inbound folder (as the
    connector does), in the order they were written."""
    house = HOUSES[id(svc)]
    await house.write(svc)
    assert svc.pool is not None
    order = await svc.pool.fetch(
        "SELECT name FROM mailbox_out WHERE written_at IS NOT NULL ORDER BY due_at, id"
    )
    folder = house.root / "inbound"
    out = []
    for row in order:
        path = folder / row["name"]
        if path.exists():
            out.append(Answer(row["name"], path.read_text()))
            path.unlink()
    return out


async def remits(svc: Service) -> list[Answer]:
    return [a for a in await inbox(svc) if a.kind == "835"]


def recent(days: int = 5) -> str:
    return (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days)).strftime("%Y%m%d")


def three_claims(icn: int) -> tuple[str, list[C]]:
    day = recent()
    claims = [
        C(f"C{icn}A", [L("99214", "180", date=day), L("36415", "25", date=day)]),
        C(f"C{icn}B", [L("99213", "120", date=day)], member="MBR002"),
        C(f"C{icn}C", [L("99396", "260", date=day)], member="MBR003"),
    ]
    return interchange(build_set(claims), icn=icn), claims


def clps(text: str) -> dict[str, list[list[str]]]:
    """Each CLP01 with its segments (CLP to the next CLP or PLB/SE)."""
    out: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for seg in segments(text)[1]:
        if seg[0] == "CLP":
            current = out.setdefault(seg[1], [])
        elif seg[0] in ("PLB", "SE"):
            current = None
        if current is not None:
            current.append(seg)
    return out


def assert_balanced(segs: list[list[str]]) -> None:
    clp = segs[0]
    cas = sum(cents(s[i]) for s in segs if s[0] == "CAS" for i in range(3, len(s), 3) if s[i])
    assert cents(clp[3]) == cents(clp[4]) + cas, clp
    pr = sum(
        cents(s[i]) for s in segs if s[0] == "CAS" and s[1] == "PR" for i in range(3, len(s), 3)
    )
    assert cents(clp[5]) == pr, clp


async def test_three_claim_interchange_is_acknowledged_once_and_paid_in_one_835(
    simulator: Simulator, tmp_path: Path
) -> None:
    svc, pay = await simulator()
    text, claims = three_claims(501)
    pcns = [c.pcn for c in claims]
    name = put(svc, text)
    await upload(svc, text, name)  # the same file again before the clearinghouse looked
    answers = await inbox(svc)
    # one 999 covering the set, one 277CA naming every claim
    assert [a.kind for a in answers] == ["999", "277ca"]
    ack, ca = answers
    assert_valid(tmp_path, ack.x12, "ack.999")
    assert [s[1] for s in segments(ack.x12)[1] if s[0] == "IK5"] == ["A"]
    assert_valid(tmp_path, ca.x12, "ack.277")
    assert [s[2] for s in segments(ca.x12)[1] if s[:2] == ["TRN", "2"]][1:] == pcns
    assert svc.pool is not None
    assert await svc.pool.fetchval("SELECT count(*) FROM received") == 1

    assert await pay(svc) == 3
    assert await pay(svc) == 0  # each claim adjudicated once
    remits_ = await remits(svc)
    assert len(remits_) == 1
    assert_valid(tmp_path, remits_[0].x12, "remit.835")
    found = clps(remits_[0].x12)
    assert sorted(found) == sorted(pcns)
    for segs in found.values():
        assert segs[0][2] == "1"
        assert_balanced(segs)
    bpr = next(s for s in segments(remits_[0].x12)[1] if s[0] == "BPR")
    assert cents(bpr[2]) == sum(cents(segs[0][4]) for segs in found.values())
    # Medicare pays preventive care in full and charges the first visit to the deductible
    assert cents(found[pcns[2]][0][5]) == 0
    assert cents(found[pcns[0]][0][5]) > 0


async def test_the_payer_cycle_runs_when_its_work_falls_due_not_a_period_later(
    simulator: Simulator,
) -> None:
    """With the cycle's period an hour, acknowledgements held back 0.3 s and claims
    adjudicated 0.8 s after receipt still go out when due, not before: the batch of
    clearinghouse wakes the cycle when a file's claims fall due, and a cycle that finds
    nothing due asks to run when the soonest queued work is."""
    runs = 0

    class Counted(PayerCycle):  # registered as the timer, so the cycle wakes it too
        async def __call__(self, s: Service) -> int:
            nonlocal runs
            runs += 1
            return await super().__call__(s)

    svc, _ = await simulator(Counted, delay_s=0.8, ack_delay_s=0.3, mailbox_poll_s=0.05)
    async with running_timers(svc):
        text, claims = three_claims(507)
        put(svc, text)
        start = time.monotonic()
        sent_at: dict[str, float] = {}  # first time each kind of file was in the inbox
        got: list[Answer] = []
        while len(sent_at) < 2 and time.monotonic() - start < 5:
            inbound = HOUSES[id(svc)].root / "inbound"
            for f in inbound.iterdir():
                if not f.name.endswith(".part"):
                    kind = "835" if f.name.endswith(".835") else "ack"
                    sent_at.setdefault(kind, time.monotonic() - start)
                    if kind == "835":
                        got.append(Answer(f.name, f.read_text()))
            await asyncio.sleep(0.02)
        assert set(sent_at) == {"ack", "835"}
        assert 0.25 <= sent_at["ack"] < 0.8  # held back 0.3 s
        assert 0.75 <= sent_at["835"] < 1.6  # adjudicated 0.8 s after receipt
        assert sorted(clps(got[0].x12)) == sorted(c.pcn for c in claims)
        assert runs < 30  # woken when due, never spinning


async def test_a_reused_control_number_with_other_content_is_not_answered(
    simulator: Simulator,
) -> None:
    svc, _ = await simulator()
    text, _ = three_claims(502)
    other = text.replace("MBR002", "MBR009")
    await upload(svc, text, "first.837")
    await upload(svc, other, "second.837")
    assert [a.kind for a in await inbox(svc)] == ["999", "277ca"]  # the first's only
    assert svc.pool is not None
    rows = await svc.pool.fetch("SELECT name, outcome FROM mailbox_in ORDER BY name")
    assert [tuple(r) for r in rows] == [
        ("first.837", "answered"),
        ("second.837", "duplicate-interchange"),
    ]


async def test_duplicate_delivery_knob_sends_the_same_835_twice(simulator: Simulator) -> None:
    svc, pay = await simulator(duplicate_835_rate=1.0)
    text, _claims = three_claims(503)
    await upload(svc, text)
    assert svc.pool is not None
    await pay(svc)
    twice = await remits(svc)
    assert len(twice) == 2  # byte for byte, under two names
    assert twice[0].x12 == twice[1].x12
    assert twice[0].name != twice[1].name
    assert await svc.pool.fetchval("SELECT deliveries FROM remits") == 2


async def test_plb_knob_adds_interest_or_a_recoupment_and_the_check_still_balances(
    simulator: Simulator, tmp_path: Path
) -> None:
    svc, pay = await simulator(plb_rate=1.0)
    reasons = set()
    for icn in range(510, 516):
        text, _ = three_claims(icn)
        await upload(svc, text)
        await pay(svc)
        [remit] = await remits(svc)
        assert_valid(tmp_path, remit.x12, f"plb{icn}.835")
        segs = segments(remit.x12)[1]
        plb = [s for s in segs if s[0] == "PLB"]
        assert len(plb) == 1
        reasons.add(plb[0][3].split(":")[0])
        clp_paid = sum(cents(s[4]) for s in segs if s[0] == "CLP")
        bpr = next(s for s in segs if s[0] == "BPR")
        assert cents(bpr[2]) == clp_paid - cents(plb[0][4])
    assert reasons == {"L6", "WO"}


async def test_late_acks_and_a_reversal_with_a_corrected_payment(simulator: Simulator) -> None:
    svc, pay = await simulator(ack_delay_s=3600, reversal_rate=1.0, reversal_after_s=0)
    day = recent()
    text = interchange(
        build_set([C("CREV1", [L("99214", "180", date=day)], payer_id="PPO01", filing="12")]),
        icn=504,
    )
    await upload(svc, text)
    assert await inbox(svc) == []  # acknowledgements held back
    assert svc.pool is not None
    await svc.pool.execute("UPDATE mailbox_out SET due_at = now() - interval '1 s'")
    await pay(svc)
    answers = await inbox(svc)
    assert [a.kind for a in answers] == ["999", "277ca", "835"]
    paid = clps(answers[2].x12)["CREV1"][0]
    await pay(svc)
    second = await remits(svc)
    assert len(second) == 1
    claim_segs = [s for s in segments(second[0].x12)[1] if s[0] == "CLP"]
    assert [s[2] for s in claim_segs] == ["22", "1"]
    reversal, corrected = claim_segs
    assert cents(reversal[3]) == -cents(paid[3])
    assert cents(reversal[4]) == -cents(paid[4])
    assert reversal[7] == paid[7]  # the reversal names the payment it takes back
    assert corrected[7] != paid[7]
    assert cents(corrected[4]) > cents(paid[4])  # the corrected fee schedule pays more
    bpr = next(s for s in segments(second[0].x12)[1] if s[0] == "BPR")
    assert cents(bpr[2]) == cents(corrected[4]) - cents(paid[4])


async def test_coverage_ended_on_the_roster_denies_co_27(simulator: Simulator) -> None:
    svc, pay = await simulator()
    assert svc.pool is not None
    await svc.pool.execute(
        "INSERT INTO enrollment(payer_id, member_id, plan, effective_date, termination_date)"
        " VALUES ('MCR01', 'MBR027', 'Medicare Part B', '2020-01-01', $1)",
        dt.datetime.now(dt.UTC).date() - dt.timedelta(days=30),
    )
    text = interchange(
        build_set(
            [
                C("CCOV1", [L("99213", "120", date=recent())], member="MBR027"),
                C("CCOV2", [L("99213", "120", date=recent())], member="MBR028"),
            ]
        ),
        icn=505,
    )
    await upload(svc, text)
    await pay(svc)
    [remit] = await remits(svc)
    found = clps(remit.x12)
    assert found["CCOV1"][0][2] == "4"
    assert ["CAS", "CO", "27", "120"] in found["CCOV1"]
    assert found["CCOV2"][0][2] == "1"


async def test_276_endpoint_answers_for_a_known_claim(simulator: Simulator) -> None:
    svc, pay = await simulator()
    text, claims = three_claims(506)
    await upload(svc, text)
    assert [a.kind for a in await inbox(svc)] == ["999", "277ca"]  # the 277CA is out
    payer = Party("MEDICARE PART B SIM", "PI", "MCR01")
    me = Party("FAMILY CLINIC", "46", "SUB01")
    prov = Party("FAMILY CLINIC", "XX", NPI)

    def ask(pcn: str, member: str = "MBR003") -> str:
        q = StatusInquiry(
            f"T-{pcn}", payer, me, prov, Name("DOE", "JANE"), member, patient_control_number=pcn
        )
        env = Envelope("ZZ", "SUB01", "ZZ", "SIMCLEARHOUSE", "", "", 9, 9)
        return write_276([q], envelope=env, reference="Q", at=dt.datetime.now(dt.UTC))

    # through the clearinghouse's CORE endpoint (TLS), in the MIME multipart form
    answer = core_web.payer_answerer(lambda: svc.pool, svc.settings)
    password = svc.settings.clearinghouse_token.get_secret_value()
    me_only = core_web.CoreServer("SIMCLEARHOUSE", password, frozenset({"SUB01"}))
    async with core_endpoint(svc.settings, answer, server=me_only) as ep:
        http = ep.client(form="mime", sender_id="SUB01", receiver_id="SIMCLEARHOUSE")

        async def post(text: str) -> str:
            return (await http.exchange(STATUS_TYPE, text, payer="MCR01")).payload

        [before] = read_277(await post(ask(claims[2].pcn)))
        assert (before.status.category, before.status.code) == ("A2", "20")

        await pay(svc)
        [remit] = await remits(svc)
        clp = clps(remit.x12)[claims[2].pcn][0]  # preventive care: Medicare pays it in full
        assert cents(clp[4]) > 0

        [after] = read_277(await post(ask(claims[2].pcn)))
        assert after.trace == f"T-{claims[2].pcn}"
        assert (after.status.category, after.status.code) == ("F1", "65")
        assert after.status.paid_cents == cents(clp[4])
        assert after.status.charge_cents == cents(clp[3])
        assert after.status.payer_claim_number == clp[7]
        assert after.status.check_number == remit.trace_number

        [nothing] = read_277(await post(ask("CNOSUCH")))
        assert (nothing.status.category, nothing.status.code) == ("A4", "35")
        [hidden] = read_277(await post(ask(claims[2].pcn, "MBR999")))
        assert hidden.status.category == "A4"

        with pytest.raises(CoreRejected, match="PayloadIllegal: the X12 payload cannot be read"):
            await post("ISA*nonsense")
        await http.close()
        stranger = ep.client(form="mime", sender_id="SUB01", password=SecretStr("wrong"))
        with pytest.raises(CoreRejected, match="UnAuthorized"):
            await stranger.exchange(STATUS_TYPE, ask(claims[2].pcn), payer="MCR01")
        await stranger.close()


async def test_a_paid_claim_sent_again_as_an_original_is_denied_co_18(simulator: Simulator) -> None:
    svc, pay = await simulator()
    day = recent()
    first = interchange(build_set([C("CDUP1", [L("99396", "260", date=day)])]), icn=520)
    again = interchange(build_set([C("CDUP1", [L("99396", "260", date=day)])]), icn=521)
    await upload(svc, first)
    await pay(svc)
    await upload(svc, again)
    await pay(svc)
    answers = await remits(svc)
    assert [clps(r.x12)["CDUP1"][0][2] for r in answers] == ["1", "4"]
    assert ["CAS", "CO", "18", "260"] in clps(answers[1].x12)["CDUP1"]


async def test_one_members_claims_in_one_cycle_meet_the_deductible_once(
    simulator: Simulator,
) -> None:
    """Medicare Part B's deductible is $257.00: three visits of one member adjudicated in
    the same payer cycle charge it across the visits in order, never more in total, and
    the member's accumulators hold exactly what the 835 charged."""
    svc, pay = await simulator()
    day = recent()
    claims = [
        C(f"D{n}", [L(code, charge, date=day)])
        for n, (code, charge) in enumerate([("99214", "180"), ("99215", "250"), ("99214", "180")])
    ]
    text = interchange(build_set(claims), icn=611)
    await upload(svc, text)
    assert svc.pool is not None
    assert await pay(svc) == 3
    [remit] = await remits(svc)
    found = clps(remit.x12)

    def deductible(pcn: str) -> int:
        return sum(
            cents(s[i + 1])
            for s in found[pcn]
            if s[:2] == ["CAS", "PR"]
            for i in range(2, len(s), 3)
            if s[i] == "1"
        )

    charged = [deductible(c.pcn) for c in claims]
    assert sum(charged) == 25700
    assert charged[0] > 0
    assert charged[-1] == 0  # met by the first two
    met = await svc.pool.fetchval(
        "SELECT deductible_met_cents FROM accumulators WHERE payer_id = 'MCR01'"
        " AND member_id = 'MBR001'"
    )
    assert met == 25700
