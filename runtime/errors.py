"""Error text without patient data, for everything that leaves the process or is kept
unrestricted: dead-letter headers (``dlq_error``), ``dead_letters.error``, logs, metrics
and span events.

``str(exc)`` is never that text: PostgreSQL's ``DETAIL: Failing row contains (...)`` and
``Key (...)=(...)``, ``invalid input syntax for type date: "..."``, and pydantic's
``input_value=...`` all echo the data that failed, names and birth dates included. What
is said instead is the exception's type, its SQLSTATE, the schema objects it names
(table, column, constraint: identifiers, never values) and, for a validation error, each
field's location and error type. The full text goes only to the restricted
``dead_letter_details`` table (runtime migration 0007), kept
``error_detail_retention_days``.
"""

from __future__ import annotations

import traceback
from typing import Any

import asyncpg
from pydantic import ValidationError

from runtime.x12 import X12Error

_PG_NAMES = ("schema_name", "table_name", "column_name", "constraint_name", "data_type_name")
MAX_FIELDS = 10


def reason(exc: BaseException) -> str:
    """One PHI-free line: ``CheckViolationError [SQLSTATE 23514] table=t constraint=c``,
    ``ValidationError (2 errors): patient.birth_date: date_from_datetime_parsing; ...``,
    else the type's name; with `` <- `` and the cause's line when there is one."""
    line = _own(exc)
    cause = exc.__cause__
    if cause is not None and cause is not exc:
        line += f" <- {_own(cause)}"
    return line


def _own(exc: BaseException) -> str:
    name = type(exc).__name__
    if isinstance(exc, asyncpg.PostgresError):
        parts = [f"{name} [SQLSTATE {exc.sqlstate}]"]
        for attr in _PG_NAMES:
            value = getattr(exc, attr, None)
            if value:
                parts.append(f"{attr.removesuffix('_name')}={value}")
        return " ".join(parts)
    if isinstance(exc, ValidationError):
        errs = exc.errors(include_url=False, include_input=False, include_context=False)
        fields = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['type']}"
            for e in errs[:MAX_FIELDS]
        )
        more = f"; ... and {len(errs) - MAX_FIELDS} more" if len(errs) > MAX_FIELDS else ""
        return f"{name} ({exc.error_count()} errors): {fields}{more}"
    if isinstance(exc, X12Error):  # where in the file, never the element it quoted
        where = [f"{k} {v}" for k, v in (("segment", exc.segment), ("position", exc.position))]
        return f"{name} at {', '.join(w for w in where if not w.endswith('None'))}"
    return name


def sqlstate(exc: BaseException) -> str | None:
    for e in (exc, exc.__cause__):
        if isinstance(e, asyncpg.PostgresError):
            return str(e.sqlstate)
    return None


def traceback_text(exc: BaseException) -> str:
    """A traceback for logs: where it failed (file, line, function, the source line),
    each exception in the chain by :func:`reason`, never by its message."""
    out: list[str] = []
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        out.append(reason(e) if e is exc else f"caused by {_own(e)}")
        for f in traceback.extract_tb(e.__traceback__):
            out.append(f'  File "{f.filename}", line {f.lineno}, in {f.name}')
            if f.line:
                out.append(f"    {f.line}")
        e = e.__cause__ or (None if e.__suppress_context__ else e.__context__)
    return "\n".join(out)


def full_text(exc: BaseException) -> str:
    """Everything, PHI included: only for the restricted table."""
    return "".join(traceback.format_exception(exc))


def mark_span(span: Any, exc: BaseException) -> None:
    """A span's error status and event, in PHI-free words (OpenTelemetry's own
    ``record_exception`` would store ``str(exc)``)."""
    from opentelemetry.trace import Status, StatusCode

    if not span.is_recording():
        return
    line = reason(exc)
    span.set_status(Status(StatusCode.ERROR, line))
    span.add_event("exception", {"exception.type": type(exc).__name__, "rcm.reason": line})
