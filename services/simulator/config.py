"""The simulator's knobs, from RCM_SIMULATOR_* environment variables (or a .env file).

Payer days are compressed to seconds. Every random choice is drawn from a ``Random``
seeded with ``seed`` and a stable name of what is being decided (a claim number, a
trace number), so a run is repeatable for a seed.

Fault knobs (all off by default) exist for reliability tests of the pipeline:

- ``duplicate_835_rate``: that share of 835s is delivered twice, byte for byte;
- ``out_of_order_rate``: that share of 835s is held back ``out_of_order_s`` seconds, so
  later ones overtake it;
- ``ack_delay_s``: 999s and 277CAs are released that long after receipt (set it above
  ``delay_s`` and the 835 overtakes the acknowledgements);
- ``reversal_rate``: that share of paid claims is later reversed (CLP02 22) and paid
  again corrected (a retroactive fee schedule change), in one later 835;
- ``plb_rate``: that share of 835s carries a PLB adjustment, interest (L6) on one of
  its claims or a recoupment (WO) of part of an earlier payment.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.simulator.adjudicate import RANDOM_DENIALS, Denial

#: CARC -> the random denial it stands for.
DENIALS_BY_CARC: dict[str, Denial] = {d[1]: d for d in RANDOM_DENIALS}


class SimulatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RCM_SIMULATOR_", env_file=".env", extra="ignore")

    delay_s: float = Field(default=0.5, ge=0, description="Seconds from receipt to adjudication")
    seconds_per_payer_day: float = Field(
        default=0.0,
        ge=0,
        description="Added per day of the payer's days_to_pay (0: every payer pays at delay_s)",
    )
    seed: int = 7
    denial_rate: float = Field(
        default=0.04, ge=0, le=1, description="Random denials of clean claims"
    )
    denial_mix: str = Field(
        default="16:1,50:1,197:1,97:1,96:1",
        description="CARC:weight pairs the random denials are drawn from",
    )
    front_end_edits: bool = Field(
        default=True,
        description="Clearinghouse claim edits on the 277CA (member id, NPI, totals);"
        " an unknown payer is always rejected, there is nowhere to route it",
    )
    duplicate_835_rate: float = Field(default=0.0, ge=0, le=1)
    out_of_order_rate: float = Field(default=0.0, ge=0, le=1)
    out_of_order_s: float = Field(default=2.0, ge=0)
    ack_delay_s: float = Field(default=0.0, ge=0)
    mailbox_dir: Path | None = Field(
        default=None,
        description="The clearinghouse's side of the SFTP mailbox (the server's folder holding"
        " outbound/ and inbound/): set, the simulator reads the uploaded 837s there and"
        " writes its 999, 277CA and 835 files back (services/simulator/mailbox.py)",
    )
    mailbox_poll_s: float = Field(
        default=0.2, gt=0, description="How often the mailbox's outbound folder is read"
    )
    reversal_rate: float = Field(default=0.0, ge=0, le=1)
    crossover_rate: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Share of a payer's paid claims it crosses over itself to a next payer it"
        " forwards to (Medicare to Medigap): 835 CLP02 19, NM1*TT, MA18",
    )
    reversal_after_s: float = Field(default=1.0, ge=0, description="Reversal's delay after payment")
    appeal_overturn_rate: float = Field(
        default=0.7,
        ge=0,
        le=1,
        description="Share of appeals (claim.appeal_sent) of a line denied for necessity, "
        "coverage or authorization the payer overturns: it reprocesses the claim, a reversal "
        "and a new payment; the others it upholds (reprocessed as it was)",
    )
    appeal_answer_s: float = Field(
        default=2.0, ge=0, description="Seconds from an appeal's arrival to the payer's 835"
    )
    correction_factor: Decimal = Field(
        default=Decimal("1.05"), gt=0, description="Fee schedule multiplier of a corrected payment"
    )
    plb_rate: float = Field(default=0.0, ge=0, le=1)
    interest_rate: Decimal = Field(
        default=Decimal("0.01"), ge=0, description="Interest paid on a claim, as a share of it"
    )

    @field_validator("denial_mix")
    @classmethod
    def _known_carcs(cls, value: str) -> str:
        parse_mix(value)
        return value

    def denials(self) -> tuple[Denial, ...]:
        """The denial mix as a tuple to draw from uniformly (an entry per unit of weight)."""
        return parse_mix(self.denial_mix)


def parse_mix(text: str) -> tuple[Denial, ...]:
    out: list[Denial] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        carc, _, weight = part.partition(":")
        carc = carc.strip()
        if carc not in DENIALS_BY_CARC:
            raise ValueError(f"denial mix names CARC {carc!r}; known: {sorted(DENIALS_BY_CARC)}")
        w = weight.strip() or "1"
        if not w.isdigit():
            raise ValueError(f"denial mix weight for {carc} must be a whole number, not {w!r}")
        out += [DENIALS_BY_CARC[carc]] * int(w)
    if not out:
        raise ValueError("denial mix is empty")
    return tuple(out)


#: Defaults of the real-time 270 answers (RosterSettings), for callers without settings.
UNKNOWN_GRACE_S = 60.0
ROSTER_WAIT_S = 0.3


class RosterSettings(BaseSettings):
    """The payer's real-time eligibility (services/simulator/eligibility.py)."""

    model_config = SettingsConfigDict(
        env_prefix="RCM_SIMULATOR_ELIGIBILITY_", env_file=".env", extra="ignore"
    )

    unknown_grace_s: float = UNKNOWN_GRACE_S
    roster_wait_s: float = Field(
        default=ROSTER_WAIT_S,
        ge=0,
        le=10,
        description="Longest a 270 about a member not on the roster waits for the roster"
        " feed's next batches before the answer is AAA 42",
    )


#: The simulator's CORE endpoint port (HTTPS), before RCM_HTTP_PORT_OFFSET.
CORE_PORT = 6156


class CoreEndpointSettings(BaseSettings):
    """The clearinghouse's CAQH CORE real-time endpoint (services/simulator/core_web.py)."""

    model_config = SettingsConfigDict(
        env_prefix="RCM_SIMULATOR_CORE_", env_file=".env", extra="ignore"
    )

    port: int = Field(
        default=0, ge=0, le=65535, description="HTTPS port; 6156 + RCM_HTTP_PORT_OFFSET if 0"
    )
    cert: Path | None = Field(
        default=None, description="Server certificate; <stack_dir>/core/server.crt if unset"
    )
    key: Path | None = Field(default=None, description="Its key; <stack_dir>/core/server.key")
    client_ca: Path | None = Field(
        default=None, description="Require client certificates chaining to this CA"
    )
    senders: str = Field(
        default="", description="SenderIDs with an agreement (comma-separated); ours if empty"
    )
