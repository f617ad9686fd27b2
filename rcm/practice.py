"""The demo's synthetic family practice: its NPIs, providers, charge master and payers.

Everything is synthetic: NPIs are made up (they only pass the Luhn check), CPT appears
as code numbers only.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.common import Address, Provider

PLACE_OF_SERVICE = "11"  # office
TAXONOMY_FAMILY_MEDICINE = "207Q00000X"


# NPI


def npi_check_digit(base9: str) -> str:
    """Luhn check digit of a 9-digit NPI base, computed with the 80840 card-issuer prefix."""
    if len(base9) != 9 or not base9.isdigit():
        raise ValueError("an NPI base is 9 digits")
    total = 24  # the doubled-and-summed contribution of the 80840 prefix
    for i, ch in enumerate(reversed(base9)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def is_valid_npi(npi: str) -> bool:
    """10 digits, first digit 1 or 2, Luhn-valid with the 80840 prefix."""
    return (
        len(npi) == 10 and npi.isdigit() and npi[0] in "12" and npi_check_digit(npi[:9]) == npi[9]
    )


def make_npi(base9: str) -> str:
    return base9 + npi_check_digit(base9)


# The practice

PRACTICE_ADDRESS = Address(
    line1="1200 ORCHARD VALE RD",
    line2="SUITE 100",
    city="CEDAR HOLLOW",
    state="VT",
    postal_code="056019912",
)
BILLING_PROVIDER = Provider(
    npi=make_npi("158640273"),
    name="MAPLE FAMILY MEDICINE",
    tax_id="471938265",
    taxonomy=TAXONOMY_FAMILY_MEDICINE,
    address=PRACTICE_ADDRESS,
)
#: How the practice's patients reach its billing office and pay (its statements' header).
PRACTICE_CONTACT = {
    "phone": "(802) 555-0142",
    "billing_contact": "Billing office",
    "hours": "Monday to Friday, 8 am to 4:30 pm",
    "pay_url": "https://pay.maple-family-medicine.example",
}
RENDERING_PROVIDERS: tuple[Provider, ...] = (
    Provider(
        npi=make_npi("137295048"),
        name="ABERNATHY",
        first_name="CORALINE",
        taxonomy=TAXONOMY_FAMILY_MEDICINE,
    ),
    Provider(
        npi=make_npi("164820395"),
        name="VANTERPOOL",
        first_name="ELIAS",
        taxonomy=TAXONOMY_FAMILY_MEDICINE,
    ),
    Provider(
        npi=make_npi("192057316"),
        name="QUILLFEATHER",
        first_name="MARISOL",
        taxonomy=TAXONOMY_FAMILY_MEDICINE,
    ),
)

# Practice charge master, integer cents. CPT numbers only, no descriptors.
CHARGE_MASTER: dict[str, int] = {
    "99202": 12000, "99203": 17500, "99204": 26000, "99205": 33000,
    "99211": 4500, "99212": 9000, "99213": 15000, "99214": 22000, "99215": 30000,
    "99381": 24000, "99382": 24500, "99383": 25000, "99384": 26500,
    "99385": 26500, "99386": 28500, "99387": 31000,
    "99391": 21500, "99392": 22500, "99393": 22500, "99394": 24500,
    "99395": 25000, "99396": 28000, "99397": 30000,
    "G0438": 26000, "G0439": 19000, "G0442": 3500, "G0444": 3500,
    "96127": 1200, "36415": 2500, "80053": 4500, "80061": 5500, "83036": 4000,
    "85025": 3500, "81002": 1500, "81003": 1500, "87880": 3500, "87804": 3500,
    "96372": 4500, "J1010": 38, "J3301": 1200, "J3420": 1000,
    "90471": 3000, "90472": 2000, "G0008": 3000, "G0009": 3000,
    "90686": 4500, "90744": 4000, "90715": 6000, "90732": 13000, "90700": 5000, "90707": 9000,
    "93000": 7500, "17110": 17000, "69210": 9500, "20610": 16000,
}  # fmt: skip


@dataclass(frozen=True)
class Payer:
    payer_id: str
    name: str
    plan: str


MEDICARE = Payer("MCR01", "MEDICARE PART B SIM", "MEDICARE PART B")
PPO = Payer("PPO01", "BLUE MEADOW PPO", "BLUE MEADOW PPO GOLD")
MEDICAID = Payer("MCD01", "STATE MEDICAID SIM", "STATE MEDICAID")
HDHP = Payer("HDHP1", "SUMMIT HDHP", "SUMMIT HDHP BRONZE")
PAYERS: tuple[Payer, ...] = (MEDICARE, PPO, MEDICAID, HDHP)
#: Secondary coverages of Medicare patients: a Medicare supplement (Medigap), and
#: Medicaid for a qualified Medicare beneficiary (QMB: never billed Medicare cost sharing).
MEDIGAP = Payer("MGP01", "MEDIGAP PLAN F SIM", "MEDIGAP PLAN F")
MEDICAID_QMB = Payer("MCD01", "STATE MEDICAID SIM", "STATE MEDICAID QMB")
