"""Links in statement emails: what they name, until when, and nothing else opens."""

from __future__ import annotations

import datetime as dt

import pytest

from runtime import signed_links
from runtime.signed_links import BadLink

pytestmark = pytest.mark.unit

KEY = b"k" * 32
DAY = dt.date(2026, 12, 7)


def test_a_link_names_its_statement_until_it_expires() -> None:
    token = signed_links.make(KEY, "statement", "S-CABC-1", DAY)
    assert signed_links.read(KEY, "statement", token, DAY) == "S-CABC-1"
    with pytest.raises(BadLink, match="expired"):
        signed_links.read(KEY, "statement", token, DAY + dt.timedelta(days=1))


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.replace(t.split(".")[0], signed_links._b64(b"S-OTHER-1")),  # another id
        lambda t: t.replace("2026-12-07", "2027-12-07"),  # a later expiry
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # a forged signature
        lambda t: t + ".x",
        lambda _t: "",
    ],
)
def test_an_altered_link_opens_nothing(change: object) -> None:
    token = signed_links.make(KEY, "statement", "S-CABC-1", DAY)
    with pytest.raises(BadLink, match="not valid"):
        signed_links.read(KEY, "statement", change(token), DAY)  # type: ignore[operator]


def test_another_key_or_purpose_opens_nothing() -> None:
    token = signed_links.make(KEY, "statement", "S-CABC-1", DAY)
    with pytest.raises(BadLink):
        signed_links.read(b"other" * 8, "statement", token, DAY)
    with pytest.raises(BadLink):
        signed_links.read(KEY, "payment", token, DAY)
