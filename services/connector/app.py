"""The connector: the clearinghouse transports. It moves files and records receipts;
the rooms that own a file's meaning read it (docs/architecture.md).

Every configured SFTP account is polled (``RCM_CONNECTOR_POLL_S``); each new inbound
999, 277CA, 277 or 835 is checked, kept and announced once (x12.file-received, or
remit.received for an 835), then archived or deleted remotely. A file uploaded through
the gateway (x12.file-uploaded) is taken in the same way. An 837 interchange the claims
batcher built (x12.interchange-ready) is uploaded to the tenant's account (``.part``,
then renamed) and announced once there (x12.file-sent): its claims are SUBMITTED then. ``rcm x12 import`` and
``rcm x12 send`` use the same code from the command line.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from runtime.service import Service
from runtime.settings import Settings
from schemas.events_transport import X12FileUploaded, X12InterchangeReady
from services.connector import handlers
from services.connector.config import ConnectorSettings, load_accounts
from services.connector.mailbox import Link
from services.connector.metrics import ConnectorMetrics
from services.connector.outbound import Sender
from services.connector.poller import Poller

PORT = 6109
MIGRATIONS = Path(__file__).parent / "migrations"


def service(
    settings: Settings | None = None, schema: str = "connector"
) -> tuple[Service, ConnectorMetrics]:
    """The connector's service (pool, migrations, outbox) and its counters, unwired (a
    test gives a schema of its own: no running connector relays its outbox)."""
    svc = Service("connector", schema=schema, migrations=MIGRATIONS, http_port=PORT, s=settings)
    return svc, ConnectorMetrics(svc.metrics.registry)


def build(settings: Settings | None = None, config: ConnectorSettings | None = None) -> Service:
    cfg = config or ConnectorSettings()
    svc, metrics = service(settings)
    accounts = load_accounts(cfg.accounts_file)
    svc.on(X12FileUploaded, partial(handlers.on_uploaded, metrics=metrics))
    svc.on(
        X12InterchangeReady,
        partial(handlers.on_interchange_ready, accounts=accounts, metrics=metrics),
    )
    for account in accounts:
        link = Link(account)  # one SSH connection an account, kept between passes
        svc.every(cfg.poll_s, Poller(cfg, account, metrics, link))
        # a pending upload goes as soon as the batch that queued it commits
        svc.every(
            cfg.retry_min_s,
            Sender(cfg, account, metrics, link),
            woken_by=[X12InterchangeReady.TOPIC],
        )
    return svc
