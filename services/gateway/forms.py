"""HTML form bodies (application/x-www-form-urlencoded), read without a multipart parser:
a handful of named fields, each its first value, never more fields than a form has."""

from __future__ import annotations

import urllib.parse

#: No form the gateway serves has more fields than this.
MAX_FIELDS = 5


def parse(raw: bytes, max_fields: int = MAX_FIELDS) -> dict[str, list[str]]:
    """Raises ValueError when the body has more than ``max_fields`` fields."""
    return urllib.parse.parse_qs(raw.decode(errors="replace"), max_num_fields=max_fields)


def first(form: dict[str, list[str]], name: str) -> str:
    """The field's first value ("" when the form has none)."""
    return (form.get(name) or [""])[0]
