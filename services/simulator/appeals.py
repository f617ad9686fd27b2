"""The simulated payer's answer to an appeal (claim.appeal_sent): a claim with a line
denied for necessity, coverage or authorization had what its adjudication saw kept
(timers._plan_correction, a ``corrections`` row marked as waiting); the appeal makes it
due after ``appeal_answer_s``, marked overturned (a share ``appeal_overturn_rate``,
drawn from the seed and the claim) or upheld, and the payer cycle reprocesses the claim:
a reversal and the new answer in one 835 (payer.correct). An appeal of a claim the payer
kept nothing for gets no 835 (its answer is overdue in the claims service).

Its one statement is here, not in repository.py (at the house's size limit)."""

from __future__ import annotations

import random

from runtime.service import Context
from schemas.events_workqueue import AppealSent
from services.simulator import payer
from services.simulator.config import SimulatorSettings

#: The payer knows the claim by its payer id and CLM01 (the clearinghouse kept the claims
#: of the mailbox under one name: answers.MAILBOX).
_DUE = (
    "UPDATE corrections SET event_id = $3 || substr(event_id, $4),"
    " due_at = now() + make_interval(secs => $5)"
    " WHERE payer_id = $1 AND patient_control_number = $2"
    " AND done_at IS NULL AND starts_with(event_id, $6)"
)


def overturns(cfg: SimulatorSettings, patient_control_number: str) -> bool:
    rng = random.Random(f"{cfg.seed}:appeal:{patient_control_number}")
    return rng.random() < cfg.appeal_overturn_rate


async def on_appeal_sent(ctx: Context, ev: AppealSent, *, cfg: SimulatorSettings) -> None:
    mark = (
        payer.APPEAL_OVERTURNED
        if overturns(cfg, ev.patient_control_number)
        else payer.APPEAL_UPHELD
    )
    await ctx.conn.execute(
        _DUE,
        ev.payer_id,
        ev.patient_control_number,
        mark,
        len(payer.APPEAL_WAIT) + 1,
        cfg.appeal_answer_s,
        payer.APPEAL_WAIT,
    )
