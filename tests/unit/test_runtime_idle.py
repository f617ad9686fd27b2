"""How long a service instance has been idle (runtime/timers.py ``idle_for``): what work
that must not slow a burst (statement PDFs) asks before it runs."""

from __future__ import annotations

import math
import time

import pytest

from runtime.timers import Timers

pytestmark = pytest.mark.unit


def test_an_instance_is_idle_since_its_last_committed_batch() -> None:
    t = Timers()
    assert t.idle_for() == math.inf  # no batch yet: idle
    t.committed("rcm.claim.adjudicated")
    at = time.monotonic()
    assert t.idle_for(at) < 1.0
    assert t.idle_for(at + 5.0) >= 5.0
    t.last_batch_at = at - 60.0  # a minute without a batch
    assert t.idle_for(at) >= 60.0
    t.committed("rcm.encounter.created")  # any topic's batch makes it busy again
    assert t.idle_for(time.monotonic()) < 1.0
