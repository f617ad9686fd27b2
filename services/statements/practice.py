"""Whose statement it is: the practice a patient knows, per tenant. Pure.

A billing company sends statements for many practices, so there is no global practice.
Each field comes from the tenant's own configuration (``RCM_STATEMENTS_PRACTICES``), else
from the deployment's (``RCM_STATEMENTS_PRACTICE_*``, for a one-practice install), else
from the billing provider on the statement's first visit (its name and address, as the
claim billed them). A phone number or a payment site nobody configured is left out, never
made up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

NO_PHONE = "our billing office"


class PracticeConfig(BaseModel):
    """A practice's statement header and how its patients pay; every field optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, max_length=80)
    street: str | None = Field(default=None, max_length=120)
    city_line: str | None = Field(default=None, max_length=120)
    phone: str | None = Field(default=None, max_length=40)
    billing_contact: str | None = Field(default=None, max_length=80)
    hours: str | None = Field(default=None, max_length=120)
    pay_url: str | None = Field(default=None, max_length=200)
    logo: str | None = Field(default=None, description="A PNG or JPEG file for the header")


@dataclass(frozen=True, slots=True)
class Practice:
    name: str
    street: str
    city_line: str
    phone: str | None = None
    hours: str | None = None
    pay_url: str | None = None
    billing_contact: str | None = None
    logo: str | None = None

    @property
    def contact(self) -> str:
        """Who to call, as a sentence needs it."""
        return self.phone or NO_PHONE

    def header(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "street": self.street,
            "city_line": self.city_line,
            "phone": self.phone,
            "billing_contact": self.billing_contact,
            "logo": self.logo,
        }


def zip_code(postal: object) -> str:
    """A ZIP code as printed: ZIP+4 with its hyphen (the contract stores digits only)."""
    text = str(postal or "")
    return f"{text[:5]}-{text[5:]}" if len(text) == 9 else text


def city_line(address: Mapping[str, Any]) -> str:
    """ "City, ST 12345-6789", the last line of an address on paper."""
    return f"{address.get('city', '')}, {address.get('state', '')} {zip_code(address.get('postal_code'))}"


def _provider_address(address: Mapping[str, Any] | None) -> tuple[str, str]:
    if not address:
        return "", ""
    street = ", ".join(str(a) for a in (address.get("line1"), address.get("line2")) if a)
    return street, city_line(address).strip()


def practice_for(
    own: PracticeConfig | None,
    deployment: PracticeConfig,
    billing_provider: Mapping[str, Any] | None,
) -> Practice:
    """The practice of a statement: the tenant's ``own`` settings field by field, then the
    ``deployment``'s, then the ``billing_provider`` of its first visit."""
    mine = own or PracticeConfig()
    bp = billing_provider or {}
    street, city_line = _provider_address(bp.get("address"))

    def pick(field: str, from_claim: str | None = None) -> str | None:
        value = getattr(mine, field) or getattr(deployment, field)
        return value or from_claim or None

    return Practice(
        name=pick("name", bp.get("name")) or "Your care provider",
        street=pick("street", street) or "",
        city_line=pick("city_line", city_line) or "",
        phone=pick("phone"),
        hours=pick("hours"),
        pay_url=pick("pay_url"),
        billing_contact=pick("billing_contact"),
        logo=pick("logo"),
    )
