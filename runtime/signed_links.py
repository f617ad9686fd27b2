"""Links a person can follow without an account: what a link names, until when, signed
with a key only the services hold (HMAC-SHA256). The statements service makes them for
statement emails; the gateway checks them. A link is a capability, never the whole
authentication: the page it opens asks for something only the addressee knows."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac

#: What a link may name: an ASCII id without the separator.
MAX_SUBJECT = 100


class BadLink(ValueError):
    """The link was altered, made with another key, or has expired."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, purpose: str, body: str) -> str:
    return _b64(hmac.new(key, f"{purpose}\x1f{body}".encode(), hashlib.sha256).digest())


def make(key: bytes, purpose: str, subject: str, expires: dt.date) -> str:
    """A token naming ``subject`` for ``purpose`` (one key may sign several kinds of
    link) until the end of ``expires`` (UTC)."""
    if not subject.isascii() or "." in subject or not 0 < len(subject) <= MAX_SUBJECT:
        raise ValueError("a link's subject is 1-100 ASCII characters without a dot")
    body = f"{_b64(subject.encode())}.{expires.isoformat()}"
    return f"{body}.{_mac(key, purpose, body)}"


def read(key: bytes, purpose: str, token: str, today: dt.date) -> str:
    """The subject a good, unexpired token names; BadLink otherwise (one message for
    every way it can be bad, so a guesser learns nothing)."""
    parts = token.split(".")
    if len(token) > 400 or len(parts) != 3:
        raise BadLink("this link is not valid")
    body = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(parts[2], _mac(key, purpose, body)):
        raise BadLink("this link is not valid")
    try:
        expires = dt.date.fromisoformat(parts[1])
        subject = _unb64(parts[0]).decode("ascii")
    except ValueError as exc:
        raise BadLink("this link is not valid") from exc
    if today > expires:
        raise BadLink("this link has expired")
    return subject
