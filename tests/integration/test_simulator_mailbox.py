"""The simulated clearinghouse working the SFTP mailbox's server side: an uploaded 837
is answered with a 999, a 277CA and (after the payer's delay) an 835 in the inbound
folder, each valid X12 written under a temporary name first; the same 837 seen again
(a re-upload, a crash before it was archived, another name) is answered once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runtime.service import Service
from runtime.settings import Settings
from runtime.x12 import cents, segments
from services.simulator import app
from services.simulator.config import RosterSettings, SimulatorSettings
from services.simulator.mailbox import Clearinghouse, archive_dir
from services.simulator.timers import PayerCycle
from tests.integration.test_simulator_handlers import clps, three_claims
from tests.throwaway import throwaway_service
from tests.unit.test_simulator_x12 import assert_valid

pytestmark = pytest.mark.integration


@pytest.fixture
def root(tmp_path: Path) -> Path:
    box = tmp_path / "chroot"
    for d in ("outbound", "inbound", "archive"):
        (box / d).mkdir(parents=True)
    return box


@pytest.fixture
async def desk(live_stack: Settings, root: Path) -> AsyncIterator[tuple[Service, Clearinghouse]]:
    cfg = SimulatorSettings(delay_s=0, denial_rate=0, mailbox_dir=root)
    pay = PayerCycle(cfg)

    def wire(s: Service) -> None:
        app.wire(s, cfg, RosterSettings(), cycle=pay, cycle_poll_s=3600)

    async with throwaway_service("simulator", app.MIGRATIONS, wire, live_stack) as svc:
        yield svc, Clearinghouse(cfg, root, pay)


def inbound(root: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((root / "inbound").iterdir())}


async def test_uploaded_837_is_answered_with_999_277ca_and_835_files(
    desk: tuple[Service, Clearinghouse], root: Path, tmp_path: Path
) -> None:
    svc, house = desk
    text, claims = three_claims(701)
    (root / "outbound" / "SENDER_000000701.837").write_text(text)
    (root / "outbound" / "SENDER_000000702.837.part").write_text(text[:200])  # still uploading

    assert await house(svc) == 1 + 2  # one 837 taken, its 999 and 277CA written
    files = inbound(root)
    assert sorted(p.rsplit(".", 1)[1] for p in files) == ["277ca", "999"]
    assert not any(p.endswith(".part") for p in files)  # renamed once whole
    ack_999 = next(t for n, t in files.items() if n.endswith(".999"))
    ca = next(t for n, t in files.items() if n.endswith(".277ca"))
    assert_valid(tmp_path, ack_999, "ack.999")
    assert_valid(tmp_path, ca, "ack.277")
    assert [s[1] for s in segments(ack_999)[1] if s[0] == "IK5"] == ["A"]
    assert [s[2] for s in segments(ca)[1] if s[:2] == ["TRN", "2"]][1:] == [c.pcn for c in claims]
    # the 837 is archived on the clearinghouse's side; the half-written one is left alone
    assert sorted(p.name for p in (root / "outbound").iterdir()) == ["SENDER_000000702.837.part"]
    assert [p.name.split("-", 1)[1] for p in archive_dir(root).iterdir()] == [
        "SENDER_000000701.837"
    ]

    assert svc.pool is not None
    assert await house.payers(svc) == 3  # type: ignore[misc]
    assert await house(svc) == 1  # the 835 written
    remit = next(t for n, t in inbound(root).items() if n.endswith(".835"))
    assert_valid(tmp_path, remit, "remit.835")
    found = clps(remit)
    assert sorted(found) == sorted(c.pcn for c in claims)
    bpr = next(s for s in segments(remit)[1] if s[0] == "BPR")
    assert cents(bpr[2]) == sum(cents(segs[0][4]) for segs in found.values()) > 0
    assert (
        await svc.pool.fetchval("SELECT count(*) FROM claim_status WHERE state = 'finalized'") == 3
    )


async def test_the_same_837_seen_twice_is_answered_once(
    desk: tuple[Service, Clearinghouse], root: Path
) -> None:
    svc, house = desk
    text, _ = three_claims(711)
    upload = root / "outbound" / "SENDER_000000711.837"
    upload.write_text(text)
    assert await house(svc) == 3
    answered = inbound(root)
    # the same file again (a resend of the interchange, or a crash before the archive)
    upload.write_text(text)
    assert await house(svc) == 0
    # and the same interchange under another name
    (root / "outbound" / "OTHER_000000711.837").write_text(text)
    assert await house(svc) == 0
    assert inbound(root) == answered
    assert not list((root / "outbound").iterdir())
    assert svc.pool is not None
    rows = await svc.pool.fetch("SELECT name, outcome FROM mailbox_in ORDER BY name")
    assert [(r["name"], r["outcome"]) for r in rows] == [
        ("OTHER_000000711.837", "duplicate-interchange"),
        ("SENDER_000000711.837", "answered"),
    ]
    assert await svc.pool.fetchval("SELECT count(*) FROM pending_adjudications") == 3


async def test_a_file_that_is_not_x12_is_kept_with_the_reason_and_not_answered(
    desk: tuple[Service, Clearinghouse], root: Path
) -> None:
    svc, house = desk
    (root / "outbound" / "junk.837").write_text("not an interchange at all")
    good, _ = three_claims(721)
    (root / "outbound" / "SENDER_000000721.837").write_text(good)
    assert await house(svc) == 3  # the good one answered, the junk refused, nothing stuck
    assert len(inbound(root)) == 2
    assert svc.pool is not None
    outcome = await svc.pool.fetchval("SELECT outcome FROM mailbox_in WHERE name = 'junk.837'")
    assert outcome == "unreadable"
    assert not list((root / "outbound").iterdir())
