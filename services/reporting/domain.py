"""What each event adds to the KPIs, and the KPIs a window's sums make. Pure: no I/O.

The agents (handlers.py) keep the sums in faust tables; this module decides what to add.
A claim's first clearinghouse verdict needs to know whether the claim was answered
before, so the agents remember a little of each claim between its events (ClaimMemo).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from schemas.events import (
    AckKind,
    AdjudicationStatus,
    ClaimAcknowledged,
    ClaimAdjudicated,
    ClaimSubmitted,
)

RATE_PLACES = Decimal("0.0001")


class Metric(StrEnum):
    """A sum kept per tenant, payer (and code) and window."""

    submitted = "submitted"  # claims sent in an 837P (originals, replacements, voids)
    corrected = "corrected"  # of which replacements and voids (CLM05-3 7 or 8)
    submitted_charge_cents = "submitted_charge_cents"
    first_answered = "first_answered"  # claims whose first clearinghouse verdict came
    first_accepted = "first_accepted"  # ... and that verdict was acceptance
    rejected = "rejected"  # each rejection (999 or 277CA), resubmissions included
    adjudicated = "adjudicated"  # payer decisions (reversals not counted)
    paid = "paid"  # decisions that paid (paid or partly paid)
    denied = "denied"
    denied_by_carc = "denied_by_carc"  # code: the CARC; a claim counts under each of its CARCs
    reversed = "reversed"
    paid_cents = "paid_cents"  # net of reversals
    patient_responsibility_cents = "patient_responsibility_cents"


@dataclass(frozen=True, slots=True)
class Increment:
    metric: Metric
    payer: str
    amount: int = 1
    code: str = ""


@dataclass(frozen=True, slots=True)
class ClaimMemo:
    """What the agents remember of one claim: its payer (acknowledgements do not name
    it), whether its first clearinghouse verdict was counted, and which acknowledgement
    (``topic:partition:offset``) that was, so that the same one read again after a crash
    is still the first.

    The agent reads its three topics each at its own pace, so a claim's acknowledgement
    can be read before its submission, when its payer is not known yet. Its counts wait
    in ``early`` (with where each came from, ``early_from``) and are added for the payer
    with the submission that names it, ``flushed_by``; read again, that submission adds
    them again and the window's offset mark tells whether they are in already."""

    payer: str
    answered: bool = False
    answered_by: str = ""
    early: tuple[Metric, ...] = ()
    early_from: tuple[str, ...] = ()
    flushed_by: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "payer": self.payer,
            "answered": self.answered,
            "answered_by": self.answered_by,
        }
        if self.early_from:
            out |= {
                "early": [str(m) for m in self.early],
                "early_from": list(self.early_from),
                "flushed_by": self.flushed_by,
            }
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ClaimMemo | None:
        if not data:
            return None
        return cls(
            payer=str(data.get("payer", "")),
            answered=bool(data.get("answered")),
            answered_by=str(data.get("answered_by", "")),
            early=tuple(Metric(m) for m in data.get("early", ())),
            early_from=tuple(str(p) for p in data.get("early_from", ())),
            flushed_by=str(data.get("flushed_by", "")),
        )


def on_submitted(
    ev: ClaimSubmitted, memo: ClaimMemo | None, position: str
) -> tuple[list[Increment], ClaimMemo]:
    """``position``: where this submission was read (it names the one that added the
    counts of acknowledgements read before it)."""
    payer = ev.payer_id
    out = [
        Increment(Metric.submitted, payer),
        Increment(Metric.submitted_charge_cents, payer, ev.total_charge_cents),
    ]
    if ev.frequency_code != "1":
        out.append(Increment(Metric.corrected, payer))
    if memo is None:
        return out, ClaimMemo(payer)
    # A resend or a corrected claim keeps what was counted of the claim before.
    flushed_by = memo.flushed_by
    if memo.early and flushed_by in ("", position):
        out += [Increment(m, payer) for m in memo.early]
        flushed_by = position
    return out, replace(memo, payer=payer, flushed_by=flushed_by)


def verdict(ack: ClaimAcknowledged) -> bool | None:
    """The clearinghouse's verdict on the claim, if this acknowledgement is one: a 999
    that accepts only says the file could be read, so it is none."""
    if ack.kind == AckKind.ack_999 and ack.accepted:
        return None
    return ack.accepted


def on_acknowledged(
    ev: ClaimAcknowledged, memo: ClaimMemo | None, position: str
) -> tuple[list[Increment], ClaimMemo | None]:
    """``position``: where this acknowledgement was read; the memo names the one that
    was the claim's first verdict, which stays the first when it is read again."""
    accepted = verdict(ev)
    if accepted is None:
        return [], memo
    if memo is not None and position in memo.early_from:
        return [], memo  # read again: counted with the submission, or waiting for it
    first = memo is None or not memo.answered or memo.answered_by == position
    metrics = [] if accepted else [Metric.rejected]
    if first:
        metrics += [Metric.first_answered] + ([Metric.first_accepted] if accepted else [])
    before = memo or ClaimMemo("")
    after = before
    if first:
        after = replace(before, answered=True, answered_by=position)
    if not before.payer:  # its submission is not read yet: the counts wait for its payer
        return [], replace(
            after, early=(*before.early, *metrics), early_from=(*before.early_from, position)
        )
    return [Increment(m, before.payer) for m in metrics], after


def on_adjudicated(ev: ClaimAdjudicated) -> list[Increment]:
    payer = ev.payer_id
    out = [
        Increment(Metric.paid_cents, payer, ev.paid_cents),
        Increment(Metric.patient_responsibility_cents, payer, ev.patient_responsibility_cents),
    ]
    if ev.status == AdjudicationStatus.reversed:
        return [*out, Increment(Metric.reversed, payer)]
    out.append(Increment(Metric.adjudicated, payer))
    if ev.status == AdjudicationStatus.denied:
        out.append(Increment(Metric.denied, payer))
        carcs = {a.reason for a in _all_adjustments(ev) if a.group != "PR"}
        out += [Increment(Metric.denied_by_carc, payer, 1, carc) for carc in sorted(carcs)]
    else:
        out.append(Increment(Metric.paid, payer))
    return out


def _all_adjustments(ev: ClaimAdjudicated) -> Iterable[Any]:
    yield from ev.adjustments
    for line in ev.lines:
        yield from line.adjustments


def rate(num: int, den: int) -> str | None:
    """A decimal string with four places; None when there is nothing to divide by."""
    if den <= 0:
        return None
    return str((Decimal(num) / Decimal(den)).quantize(RATE_PLACES))


@dataclass(frozen=True, slots=True)
class Sum:
    """One table entry of a window: ``metric`` for ``payer`` (and ``code``) adds up to
    ``value``."""

    metric: Metric
    payer: str
    code: str
    value: int


def kpis(sums: Iterable[Sum]) -> dict[str, Any]:
    """A window's KPIs from its sums: totals, rates and the per-payer and per-CARC split."""
    total: dict[Metric, int] = dict.fromkeys(Metric, 0)
    by_payer: dict[str, dict[Metric, int]] = {}
    by_carc: dict[str, int] = {}
    for s in sums:
        if s.metric == Metric.denied_by_carc:
            by_carc[s.code] = by_carc.get(s.code, 0) + s.value
            continue
        total[s.metric] += s.value
        payer = by_payer.setdefault(s.payer, dict.fromkeys(Metric, 0))
        payer[s.metric] += s.value
    out = _figures(total)
    out["denials_by_carc"] = [
        {"carc": carc, "claims": n, "rate": rate(n, total[Metric.adjudicated])}
        for carc, n in sorted(by_carc.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    out["by_payer"] = {payer: _figures(m) for payer, m in sorted(by_payer.items())}
    return out


def _figures(m: Mapping[Metric, int]) -> dict[str, Any]:
    return {
        "claims_submitted": m[Metric.submitted],
        "corrected_claims_submitted": m[Metric.corrected],
        "charges_submitted_cents": m[Metric.submitted_charge_cents],
        "first_pass_acceptance_rate": rate(m[Metric.first_accepted], m[Metric.first_answered]),
        "first_verdicts": m[Metric.first_answered],
        "rejections": m[Metric.rejected],
        "decisions": m[Metric.adjudicated],
        "denials": m[Metric.denied],
        "denial_rate": rate(m[Metric.denied], m[Metric.adjudicated]),
        "reversals": m[Metric.reversed],
        "paid_cents": m[Metric.paid_cents],
        "patient_responsibility_cents": m[Metric.patient_responsibility_cents],
    }
