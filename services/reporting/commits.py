"""When reporting commits: only offsets whose table writes Kafka already holds.

faust writes a table's changelog record from a synchronous ``table[key] = value``: the
record waits in its producer buffer and a background task sends it. faust's commits run
on a timer beside the agent and do not wait for those sends (its buffer flush gives up
after 0.1 s; under exactly-once it does not flush at all), so a commit could seal the
offsets of events whose records were still on their way, and a restart then lost those
counts. Kafka transactions did not save it: with faust's per-partition transactional
producers a crash left committed offsets ahead of committed changelogs.

So reporting does not lean on transactions. Each commit here:
1. takes the gate the agent holds while it handles (and acknowledges) an event, so no
   record is written while it runs;
2. waits until the broker has acknowledged every changelog record written so far;
3. then commits the offsets, which are never ahead of the changelogs.

After a crash the events since the last commit are read again, and some of their
records may already be in the changelogs. Each table value says which offsets it holds
(handlers.KpiTables), so an event read twice is added once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import faust
from faust.transport.drivers import aiokafka as driver

from services.reporting import refetch


class Gate:
    """Held by the agent around one event, and by a commit while it waits and commits.
    Tracks the changelog records sent but not yet acknowledged by the broker."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.unsent: set[asyncio.Future[Any]] = set()

    def track(self, sent: Awaitable[Any]) -> None:
        fut = asyncio.ensure_future(sent)  # faust's FutureMessage is a future already
        self.unsent.add(fut)
        fut.add_done_callback(self.unsent.discard)

    async def all_sent(self) -> None:
        """Until the broker has every record tracked (a failed send raises here, so the
        commit fails and the events are read again)."""
        while self.unsent:
            await asyncio.gather(*list(self.unsent))


def table_class(gate: Gate) -> type[faust.Table[Any, Any]]:
    """faust's Table, with each changelog record tracked by ``gate``."""

    class Table(faust.Table[Any, Any]):
        def send_changelog(self, *args: Any, **kwargs: Any) -> Any:
            fut = super().send_changelog(*args, **kwargs)
            gate.track(fut)
            return fut

    return Table


def install(app: faust.App, gate: Gate) -> None:
    """Gives ``app`` a Kafka consumer whose commits take ``gate`` and wait for the
    changelogs first, and that skips no record after a seek (refetch.py)."""

    class Consumer(refetch.Refetch, driver.Consumer):
        async def force_commit(
            self, topics: Any = None, start_new_transaction: bool = True
        ) -> bool:
            async with gate.lock:
                await gate.all_sent()
                return bool(
                    await super().force_commit(topics, start_new_transaction=start_new_transaction)
                )

    class Transport(driver.Transport):
        pass

    Transport.Consumer = Consumer
    app.transport = Transport(app.conf.broker_consumer, app)
