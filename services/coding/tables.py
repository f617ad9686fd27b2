"""The NCCI/MUE edit tables one coding service scrubs with, loaded from PostgreSQL (and
the dated code sets loaded there, which replace the bundled ones).

:class:`LoadedTables` holds one immutable :class:`~services.coding.ncci.EditTables`;
:func:`load_tables` fills it at start and the reload timer
(:func:`services.coding.timers.reload_tables`) swaps in a new one when a load changed
the schema. :func:`services.coding.app.build` makes one per service and hands it to
the handlers and the timer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import asyncpg

from services.coding import code_dates_store, codesets, repository
from services.coding.ncci import EMPTY, EditTables

log = logging.getLogger("rcm.coding")


@dataclass
class LoadedTables:
    current: EditTables = EMPTY
    stamp: str = ""
    """The schema's stamp of what was loaded (:func:`schema_stamp`)."""


async def schema_stamp(conn: asyncpg.Connection) -> str:
    """Changes when a loader changed the edit tables or the dated code sets."""
    return f"{await repository.tables_stamp(conn)}/{await code_dates_store.stamp(conn)}"


async def load_tables(
    conn: asyncpg.Connection, loaded: LoadedTables, *, seed: bool = True
) -> EditTables:
    """Load the edit tables and CPT codes from the schema (seeding the bundled subset
    into an empty schema when ``seed``) and make them current."""
    if seed and await repository.seed_bundled(conn):
        log.warning("no NCCI/MUE tables were loaded; seeded the bundled demonstration subset")
    loaded.stamp = await schema_stamp(conn)
    loaded.current = await repository.load_edit_tables(conn)
    codesets.add_cpt_codes(await repository.cpt_codes(conn))
    sets = await code_dates_store.use_loaded(conn)
    log.info("code sets: %s; %s; %s", sets.icd10cm.source, sets.hcpcs.source, sets.cpt.source)
    log.info("edit tables loaded: %s (%d rows)", loaded.current.version, len(loaded.current))
    return loaded.current
