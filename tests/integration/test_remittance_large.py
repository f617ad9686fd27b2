"""A large 835 posts in bounded memory: the remittance service reads it as a stream of
claims twice (balance, then post CHUNK claims at a time), never holding all its claims.
Measured in a process of its own, which posts one file through the real handlers on
the real database: its resident set before, and its peak (VmHWM, reset first) while
posting."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.settings import REPO_ROOT, Settings
from scripts.big_x12 import big_835

pytestmark = pytest.mark.integration

#: About the largest 835 a remit.received event carries (schemas.codec.MAX_MESSAGE_BYTES).
LARGEST = 8_000_000

PROBE = """
import asyncio, json, sys
import schemas.codec
from runtime.settings import Settings
from scripts.big_x12 import big_835
from tests.integration import remittance_world as w

def status_mb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024

def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:  # Linux: VmHWM starts again from VmRSS
        f.write("5")

# remit.received carries up to MAX_MESSAGE_BYTES (1 MB): here a file past it, as a raised
# limit or a file handed over by reference would bring, to see what grows with its size
schemas.codec.MAX_MESSAGE_BYTES = 64_000_000

async def main(path):
    async with w.remittance_service(Settings()) as svc:
        warm = big_835(2_000).replace("*BIGTRACE*", "*WARMTRACE*")
        await w.remit(svc, warm, "WARMUP")  # every import and cache in place
        text = open(path).read()
        reset_peak()
        before = status_mb("VmRSS")
        await w.remit(svc, text, "BIGTRACE")
        after = status_mb("VmHWM")
        [row] = await w.rows(svc, "SELECT status, claims, unmatched FROM remits"
                             " WHERE trace_number = 'BIGTRACE'")
    print(json.dumps({"chars": len(text), "before_mb": before, "peak_mb": after, **row}))

asyncio.run(main(sys.argv[1]))
"""


def post_in_own_process(live_stack: Settings, path: Path) -> dict[str, object]:
    env = {
        "PATH": "/usr/bin:/bin",
        "RCM_DATABASE_URL": live_stack.database_url,
        "RCM_KAFKA_BOOTSTRAP": live_stack.kafka_bootstrap,
        "RCM_STACK_DIR": str(live_stack.stack_dir),
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def test_a_large_835_posts_every_claim_with_bounded_memory(
    live_stack: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "large.835"
    path.write_text(big_835(LARGEST))  # made here: its making is not the child's peak
    got = post_in_own_process(live_stack, path)
    print(json.dumps(got))  # the figure (pytest -s)
    # every CLP read and handled: none of these claims was submitted, so each one waits
    assert got["status"] == "posted"
    assert got["claims"] == got["unmatched"]
    assert isinstance(got["claims"], int)
    assert got["claims"] > 3_000
    chars = got["chars"]
    assert isinstance(chars, int)
    grown = float(got["peak_mb"]) - float(got["before_mb"])  # type: ignore[arg-type]
    # The event's text and its copies, a short line per claim for the trace digest and
    # the occurrence count: 6.5 times the file (52 MB for 8 MB). Holding every claim
    # (the reader's records for ~27,700 claims) took 23 times it (185 MB).
    assert grown < 10 * chars / 1e6, got
