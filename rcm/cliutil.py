"""Small helpers every `rcm` subcommand module uses."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

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
