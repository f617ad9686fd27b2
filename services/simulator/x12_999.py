"""The clearinghouse's 999 (005010X231A1): each transaction set of an 837P accepted or
rejected, with IK3/IK4 naming the segment and element that is wrong."""

from __future__ import annotations

from dataclasses import replace

from runtime.x12 import Delimiters, Envelope, segment, transaction, wrap
from services.simulator.x12_837 import Interchange837
from services.simulator.x12_837_set import SegmentError

V999 = "005010X231A1"


def _ik_segments(err: SegmentError, d: Delimiters) -> list[str]:
    if err.set_code not in ("5",):
        return []
    segs = [segment("IK3", err.segment_id, str(err.set_position), "", err.segment_code, d=d)]
    if err.position and err.element_code:
        bad = err.value if err.value and err.element_code != "1" else None
        if bad is not None:
            for ch in (d.element, d.component, d.segment, d.repetition):
                bad = bad.replace(ch, " ")
        segs.append(segment("IK4", str(err.position), "", err.element_code, bad, d=d))
    return segs


def write_999(
    received: Interchange837,
    *,
    envelope: Envelope,
    first_control_number: int = 1,
    d: Delimiters | None = None,
) -> str:
    """A 999 for every functional group of a received 837P, accepting or rejecting each set.

    Build the input with ``x12_837.triage_837``; a set with an ``error`` is rejected.
    """
    d = d or Delimiters()
    sets: list[list[str]] = []
    for n, group in enumerate(received.groups):
        body = [segment("AK1", group.functional_id, group.control_number, group.version, d=d)]
        accepted = 0
        for ts in group.sets:
            body.append(segment("AK2", "837", ts.control_number, ts.version, d=d))
            if ts.error is None:
                accepted += 1
                body.append(segment("IK5", "A", d=d))
            else:
                body += _ik_segments(ts.error, d)
                body.append(segment("IK5", "R", ts.error.set_code, d=d))
        count = len(group.sets)
        code = "A" if accepted == count else ("R" if accepted == 0 else "P")
        body.append(segment("AK9", code, str(count), str(count), str(accepted), d=d))
        control = f"{first_control_number + n:04d}"
        sets.append(transaction("999", control, body, V999, d=d))
    return wrap(replace(envelope, functional_id="FA", version=V999), sets, d)
