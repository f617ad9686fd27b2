"""The remittance service on the live stack, for its integration tests: 837P and 835
builders, the real handlers in a schema of their own, and what a test delivers and reads
(postings, ledger lines, work queues, the claim.adjudicated events waiting in the outbox).
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import orjson

from runtime.service import Record, Service
from runtime.settings import Settings
from runtime.x12 import Envelope, segment, transaction, wrap
from schemas.codec import decode, encode, new_meta
from schemas.events import ClaimAdjudicated, ClaimSubmitted, Event, RemitReceived
from services.remittance import app
from services.remittance.config import RemittanceSettings
from tests.throwaway import throwaway_service

TENANT = "t-remit"
PAYER = "MCR01"
DOS = dt.date(2025, 3, 14)
_icn = itertools.count(100)


# --- X12 builders ----------------------------------------------------------------------


def _env(functional: str, version: str) -> Envelope:
    return Envelope(
        "ZZ",
        "SENDER",
        "ZZ",
        "RECEIVER",
        functional,
        version,
        next(_icn),
        1,
        at=dt.datetime(2025, 4, 1, 8, 0, tzinfo=dt.UTC),
    )


def x837(pcn: str, charge: str, last: str, first: str, dos: dt.date = DOS) -> str:
    """A minimal 837P: the patient is the subscriber (NM1*IL), one line with DTP*472."""
    body = [
        segment("BHT", "0019", "00", "1", "20250401", "0800", "CH"),
        segment("NM1", "41", "2", "CLINIC", "", "", "", "", "46", "SUB1"),
        segment("NM1", "40", "2", "PAYER", "", "", "", "", "46", PAYER),
        segment("HL", "1", "", "20", "1"),
        segment("NM1", "85", "2", "CLINIC", "", "", "", "", "XX", "1234567893"),
        segment("HL", "2", "1", "22", "0"),
        segment("SBR", "P", "18", "", "", "", "", "", "", "MB"),
        segment("NM1", "IL", "1", last, first, "", "", "", "MI", "M123"),
        segment("NM1", "PR", "2", "MEDICARE", "", "", "", "", "PI", PAYER),
        segment("CLM", pcn, charge, "", "", "11:B:1", "Y", "A", "Y", "Y"),
        segment("HI", "ABK:R05"),
        segment("LX", "1"),
        segment("SV1", "HC:99213", charge, "UN", "1", "", "", "1"),
        segment("DTP", "472", "D8", dos.strftime("%Y%m%d")),
    ]
    return wrap(_env("HC", "005010X222A1"), [transaction("837", "0001", body)])


def clp(
    pcn: str,
    status: str,
    charge: str,
    paid: str,
    pr: str,
    payer_number: str,
    *rest: str,
    name: tuple[str, str] = ("RIVERA", "ALEX"),
) -> list[str]:
    return [
        segment("CLP", pcn, status, charge, paid, pr, "MB", payer_number, "11", "1"),
        segment("NM1", "QC", "1", name[0], name[1], "", "", "", "MI", "M123"),
        *rest,
    ]


def line(code: str, charge: str, paid: str, *cas: str, allowed: str | None = None) -> list[str]:
    out = [segment("SVC", f"HC:{code}", charge, paid, "", "1"), segment("DTM", "472", "20250314")]
    out.extend(cas)
    if allowed is not None:
        out.append(segment("AMT", "B6", allowed))
    return out


def x835(amount: str, trace: str, *claims: list[str], plb: list[str] | None = None) -> str:
    body = [
        segment(
            "BPR",
            "I",
            amount,
            "C",
            "ACH",
            "CCP",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "20250401",
        ),
        segment("TRN", "1", trace, "1512345678"),
        segment("N1", "PR", "MEDICARE PART B SIM"),
        segment("REF", "2U", PAYER),
        segment("N1", "PE", "CLINIC", "XX", "1234567893"),
        segment("LX", "1"),
    ]
    for c in claims:
        body.extend(c)
    body.extend(plb or [])
    return wrap(_env("HP", "005010X221A1"), [transaction("835", "0001", body)])


# --- the service -----------------------------------------------------------------------


class Topics:
    """What the tests published, one partition per topic: the offset each record takes,
    and the topics' ends, as the broker would report them to the service (TopicEnds).
    A record may be published now and delivered later: a consumer that lags."""

    def __init__(self) -> None:
        self.next: Counter[str] = Counter()

    def publish(self, event: Event) -> Record:
        x = encode(event, new_meta(event, source="test", tenant=TENANT, correlation_id="corr"))
        offset = self.next[event.TOPIC]
        self.next[event.TOPIC] += 1
        return Record(event.TOPIC, 0, offset, x.key, x.value, x.headers)

    async def ends(self, topic: str) -> list[int]:
        return [self.next[topic]]


TOPICS = Topics()


@asynccontextmanager
async def remittance_service(live_stack: Settings) -> AsyncIterator[Service]:
    """The real handlers in a schema of their own, with topics of their own (TOPICS)."""
    global TOPICS
    TOPICS = Topics()
    async with throwaway_service(
        "remittance-it", app.MIGRATIONS, partial(app.wire, cfg=RemittanceSettings()), live_stack
    ) as service:
        service.topic_ends = TOPICS.ends
        yield service


def publish(event: Event) -> Record:
    """Published now, consumed later (consume): a consumer that lags."""
    return TOPICS.publish(event)


async def deliver(service: Service, *events: Event) -> None:
    """The events (of one topic) published and consumed as one batch."""
    await consume(service, *(TOPICS.publish(e) for e in events))


async def consume(service: Service, *records: Record) -> None:
    """Records published earlier, consumed now as one batch."""
    await service.process(records[0].topic, list(records))


async def submit(service: Service, claim_id: str, pcn: str, charge_cents: int, **kw: Any) -> None:
    await deliver(service, submitted(claim_id, pcn, charge_cents, **kw))


def submitted(claim_id: str, pcn: str, charge_cents: int, **kw: Any) -> ClaimSubmitted:
    last, first = kw.get("name", ("RIVERA", "ALEX"))
    charge = f"{charge_cents // 100}.{charge_cents % 100:02d}"
    return ClaimSubmitted(
        claim_id=claim_id,
        patient_control_number=pcn,
        payer_id=PAYER,
        interchange_control_number="000000001",
        group_control_number="1",
        transaction_control_number="0001",
        frequency_code=kw.get("frequency_code", "1"),
        total_charge_cents=charge_cents,
        x12=x837(pcn, charge, last, first),
    )


async def remit(service: Service, text: str, trace: str) -> None:
    await deliver(service, RemitReceived(trace_number=trace, payer_id=PAYER, source="t", x12=text))


async def adjudications(service: Service) -> list[ClaimAdjudicated]:
    assert service.pool is not None
    out = []
    for row in await service.pool.fetch(
        "SELECT value, headers FROM outbox WHERE topic = 'claim.adjudicated' ORDER BY id"
    ):
        headers = [(k, base64.b64decode(v)) for k, v in orjson.loads(row["headers"])]
        ev = decode(row["value"], headers).event
        assert isinstance(ev, ClaimAdjudicated)
        out.append(ev)
    return out


async def rows(service: Service, sql: str, *args: Any) -> list[dict[str, Any]]:
    assert service.pool is not None
    return [dict(r) for r in await service.pool.fetch(sql, *args)]


def partly_paid_197(n: str, *line_2: str) -> list[str]:
    """CLAIM-<n>'s answer (CLP01 C<n>, payer claim number PAYER-<n>): 99213 paid $92 of
    $150 (CO-45), 20610 ($160) denied CO-197 (``line_2``: more of its segments)."""
    return clp(
        "C" + n.replace("-", ""), "1", "310", "92", "0", f"PAYER-{n}",
        *line("99213", "150", "92", segment("CAS", "CO", "45", "58"), allowed="92"),
        *line("20610", "160", "0", segment("CAS", "CO", "197", "160"), *line_2),
    )  # fmt: skip


async def line_denied(service: Service, n: str) -> dict[str, Any]:
    """CLAIM-<n> submitted ($310) and paid in part (``partly_paid_197``, trace TR-<n>):
    remittance's line denial of its line 2 (``denial_id``)."""
    await submit(service, f"CLAIM-{n}", "C" + n.replace("-", ""), 31000)
    await remit(service, x835("92", f"TR-{n}", partly_paid_197(n)), f"TR-{n}")
    sql = "SELECT denial_id FROM line_denial_v1 WHERE claim_id = $1"
    [denial] = await rows(service, sql, f"CLAIM-{n}")
    return denial


PAID_835_CLAIM = clp(
    "C1",
    "1",
    "150",
    "61.60",
    "30.40",
    "PCN-A",
    *line(
        "99213",
        "150",
        "61.60",
        segment("CAS", "CO", "45", "58"),
        segment("CAS", "PR", "1", "10", "", "2", "15.40", "", "3", "5"),
        allowed="92",
    ),
)
