"""The answers of the ops routes: counts and sums, never patient data."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LagRow(Answer):
    group: str
    topic: str
    partition: int
    lag: int
    lag_seconds: float


class StateCount(Answer):
    state: str
    claims: int
    stuck: int
    limit_s: int | None
    oldest_s: float | None


class StuckClaim(Answer):
    claim_id: str | None  # None for a key with the ops scope alone
    state: str
    since: str
    age_s: float
    limit_s: int


class StageFlow(Answer):
    to_state: str
    transitions: int
    per_minute: list[int]


class Throughput(Answer):
    window_minutes: int
    minutes: list[str]
    stages: list[StageFlow]


class Funnel(Answer):
    as_of: str
    states: list[StateCount]
    claims: int
    stuck_total: int
    stuck: list[StuckClaim]
    throughput: Throughput


class DenialGroup(Answer):
    group: str | None
    reason: str | None
    code: str
    label: str
    group_label: str
    category: str | None
    claims: int
    lines: int
    amount_cents: int
    open_claims: int


class Denials(Answer):
    since: str
    source: str
    items: list[DenialGroup]
    claims: int
    amount_cents: int
    days: int


class AgingBucket(Answer):
    bucket: str
    insurance_claims: int
    insurance_cents: int
    patient_claims: int
    patient_cents: int


class Aging(Answer):
    as_of: str
    buckets: list[AgingBucket]
    insurance_cents: int
    insurance_claims: int
    patient_cents: int
    patient_claims: int
    patient_credit_cents: int
    patient_source: bool


class Ticket(Answer):
    url: str
    expires_in: int


class LiveFigures(Answer):
    claims_submitted: int
    corrected_claims_submitted: int
    charges_submitted_cents: int
    first_pass_acceptance_rate: str | None
    first_verdicts: int
    rejections: int
    decisions: int
    denials: int
    denial_rate: str | None
    reversals: int
    paid_cents: int
    patient_responsibility_cents: int


class LiveCarc(Answer):
    carc: str
    claims: int
    rate: str | None


class LiveTotals(LiveFigures):
    denials_by_carc: list[LiveCarc]
    by_payer: dict[str, LiveFigures]


class LiveWindow(LiveTotals):
    start: str
    end: str


class LiveKpis(Answer):
    tenant: str
    window: str
    windows: list[LiveWindow]
    total: LiveTotals
