"""What an edit reports: a :class:`Flag` per problem, held or warned."""

from __future__ import annotations

from typing import NamedTuple

from schemas.events import Finding

HOLD = "hold"
"""The claim cannot go out until a person fixes this."""
WARN = "warn"
"""The claim goes out; a coder may want to look."""


class Flag(NamedTuple):
    """One problem an edit found: its edit id, severity, line (None for the claim), the
    message for a coder (never patient names or identifiers) and the fix to make."""

    edit: str
    severity: str
    line: int | None
    message: str
    fix: str

    def finding(self) -> Finding:
        return Finding(edit=self.edit, severity=self.severity, line=self.line, message=self.message)
