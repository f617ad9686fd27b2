"""Small helpers every `rcm` subcommand module uses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import typer


def fail(message: str, code: int = 1) -> NoReturn:
    """One line naming the problem, a non-zero exit, never a traceback."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"{path}: no such file")
    except UnicodeDecodeError:
        fail(f"{path}: not a text file")
    except OSError as exc:
        fail(f"{path}: {exc.strerror}")


#: JSON a command reads: how deep it may nest and how long an integer may be (an int64).
MAX_JSON_DEPTH = 64
MAX_INT_DIGITS = 19


class JsonLimit(ValueError):
    """JSON that parses but is past a limit: too deep, or an integer too long."""


def bounded_json(text: str) -> Any:
    """``json.loads`` with limits: JsonLimit naming the place past one (nesting deeper than
    :data:`MAX_JSON_DEPTH`, an integer of more than :data:`MAX_INT_DIGITS` digits);
    json.JSONDecodeError as before for text that is not JSON."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise JsonLimit(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:  # Python's own limit on the digits of an integer
        raise JsonLimit(f"an integer of more than {MAX_INT_DIGITS} digits") from None
    stack: list[tuple[Any, int, str]] = [(doc, 1, "$")]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise JsonLimit(f"nested deeper than {MAX_JSON_DEPTH} levels at {path[:200]}")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, child in items:
                if isinstance(child, dict | list | int):
                    step = f".{_key(key)}" if isinstance(value, dict) else f"[{key}]"
                    stack.append((child, depth + 1, path + step))
        elif isinstance(value, int) and not isinstance(value, bool):
            digits = len(str(abs(value)))
            if digits > MAX_INT_DIGITS:
                raise JsonLimit(
                    f"the integer at {path[:200]} has {digits} digits, at most {MAX_INT_DIGITS}"
                )
    return doc


def _key(key: object) -> str:
    """A JSON key as a path names it: one line, escaped, at most 40 characters."""
    return json.dumps(str(key)[:40])[1:-1]
