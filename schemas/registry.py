"""Every event type on the wire, found in schemas/events*.py.

A new event type is a new ``Event`` subclass with TYPE, TOPIC and KEY_FIELD in any
``schemas/events*.py`` module: topics, JSON Schema files, the AsyncAPI document and
the codec pick it up from here.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from schemas.events import Event


def _load() -> tuple[type[Event], ...]:
    here = Path(__file__).parent
    for module in sorted(pkgutil.iter_modules([str(here)]), key=lambda m: m.name):
        if module.name.startswith("events"):
            importlib.import_module(f"schemas.{module.name}")
    found: list[type[Event]] = []

    def walk(cls: type[Event]) -> None:
        for sub in cls.__subclasses__():
            if "TYPE" in vars(sub):
                found.append(sub)
            walk(sub)

    walk(Event)
    types = [e.TYPE for e in found]
    topics = [e.TOPIC for e in found]
    dupes = {t for t in types if types.count(t) > 1} | {t for t in topics if topics.count(t) > 1}
    if dupes:
        raise RuntimeError(f"event types and topics must be unique: {sorted(dupes)}")
    return tuple(found)


ALL_EVENTS: tuple[type[Event], ...] = _load()
BY_TYPE: dict[str, type[Event]] = {e.TYPE: e for e in ALL_EVENTS}
BY_TOPIC: dict[str, type[Event]] = {e.TOPIC: e for e in ALL_EVENTS}
