"""A JSON document with one long list, written item by item as a reader hands them over:
the items go to a temporary file (on disk, not in memory) and the document is written
once the reader got to the end, so nothing is printed for a file that turns out
unreadable and a large file's records are never all held."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from typing import IO, Any


class ListSpool:
    def __init__(self, to_json: Callable[[Any], Any]) -> None:
        self.to_json = to_json
        self.spool: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self.count = 0

    def __call__(self, item: Any) -> None:
        self.spool.write(",\n" if self.count else "\n")
        self.spool.write(_indented(self.to_json(item), 4))
        self.count += 1

    def write(self, out: IO[str], head: dict[str, Any], key: str, tail: dict[str, Any]) -> None:
        """``{**head, key: [the items], **tail}``, indented as ``json.dumps(indent=2)``."""
        out.write("{")
        for k, v in head.items():
            out.write(f"\n  {json.dumps(k)}: {_indented(v, 2).lstrip()},")
        out.write(f"\n  {json.dumps(key)}: [")
        self.spool.seek(0)
        shutil.copyfileobj(self.spool, out)
        out.write("\n  ]" if self.count else "]")
        for k, v in tail.items():
            out.write(f",\n  {json.dumps(k)}: {_indented(v, 2).lstrip()}")
        out.write("\n}\n")

    def close(self) -> None:
        self.spool.close()

    def __enter__(self) -> ListSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _indented(value: Any, by: int) -> str:
    pad = " " * by
    return "\n".join(pad + line for line in json.dumps(value, indent=2).split("\n"))
