"""Statements service: the patient ledger, patient payments and statements.

- encounter.created: the guarantor account and the claim's charges;
- claim.adjudicated: the payer's decision on the ledger; the patient is billed once
  insurance is final;
- claim.coded (self-pay only): the visit billed to the patient at once, with the discount;
- patient.payment.received: the payment posted, oldest balance first;
- ledger.command: a person's write-off, transfer, refund, credit applied or approval, and
  a collection agency's payment (``commands``);
- a timer: the statement cycle and claims whose wait for a later payer is over;
- a timer: each statement delivered, by email with a link or in a print batch.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from runtime.service import Service
from runtime.settings import Settings
from schemas.events import ClaimAdjudicated, ClaimCoded, EncounterCreated
from schemas.events_ledger import LedgerCommand
from schemas.events_payments import PatientPaymentReceived
from services.statements import commands, delivery, handlers, pdfs, timers
from services.statements.config import StatementSettings

PORT = 6105
MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: Settings | None = None, config: StatementSettings | None = None) -> Service:
    svc = Service(
        "statements", schema="statements", migrations=MIGRATIONS, http_port=PORT, s=settings
    )
    register(svc, config or StatementSettings())
    return svc


def register(svc: Service, cfg: StatementSettings) -> None:
    """Wires the handlers and the cycle timer onto a service (tests use their own)."""
    svc.on_many(EncounterCreated, partial(handlers.on_encounters, cfg=cfg))
    svc.on_many(ClaimAdjudicated, partial(handlers.on_adjudicated, cfg=cfg))
    svc.on(ClaimCoded, partial(handlers.on_coded, cfg=cfg))
    svc.on(PatientPaymentReceived, handlers.on_payment)
    svc.on(LedgerCommand, partial(commands.on_command, cfg=cfg))
    svc.every(cfg.poll_seconds, partial(timers.run_cycle, cfg=cfg))
    if cfg.pdf_batch > 0:
        svc.every(cfg.pdf_poll_s, partial(pdfs.render_missing, cfg=cfg))
    if cfg.print_dir is not None:  # delivery configured (services/statements/delivery.py)
        svc.every(cfg.delivery_poll_s, partial(delivery.deliver, cfg=cfg))
