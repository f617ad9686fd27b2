"""The simulated payers: who they are, what they pay, and what the member owes.

Pure data. Fees are integer cents per unit. The Medicare-like schedule is a rough
national non-facility physician fee (or clinical lab / drug pricing) for each code;
the other plans are fixed multiples of it, rounded half up to the cent.

Codes are numbers only: no descriptions live here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType


def _range(prefix: str, first: int, last: int) -> frozenset[str]:
    return frozenset(f"{prefix}{n}" for n in range(first, last + 1))


OFFICE_EM = _range("", 99202, 99205) | _range("", 99212, 99215)
PREVENTIVE_VISITS = _range("", 99381, 99387) | _range("", 99391, 99397)
VACCINES = frozenset({"90686", "90715", "90732"})
VACCINE_ADMIN = frozenset({"90471", "90472"})
WELLNESS = frozenset({"G0438", "G0439"})
#: Annual alcohol misuse and depression screening: preventive under every plan here.
SCREENING = frozenset({"G0442", "G0444"})
PREVENTIVE = PREVENTIVE_VISITS | VACCINES | VACCINE_ADMIN | WELLNESS | SCREENING

#: Medicare-like allowed amount per unit, cents.
MEDICARE_FEES: Mapping[str, int] = MappingProxyType(
    {
        "99202": 7300,
        "99203": 11300,
        "99204": 16800,
        "99205": 22100,
        "99212": 5700,
        "99213": 9200,
        "99214": 13000,
        "99215": 18300,
        "99381": 13500,
        "99382": 14100,
        "99383": 14600,
        "99384": 16200,
        "99385": 16200,
        "99386": 18500,
        "99387": 20000,
        "99391": 12000,
        "99392": 12900,
        "99393": 12800,
        "99394": 13800,
        "99395": 14200,
        "99396": 15100,
        "99397": 16300,
        "G0438": 17000,
        "G0439": 13300,
        "36415": 300,
        "81002": 350,
        "81003": 310,
        "85025": 770,
        "80053": 1040,
        "80061": 1330,
        "83036": 960,
        "84443": 1650,
        "87880": 1620,
        "87804": 1620,
        "90471": 2000,
        "90472": 1000,
        "90686": 2100,
        "90715": 3600,
        "90732": 11500,
        "96127": 470,
        "93000": 1600,
        "94640": 1650,
        "96372": 1450,
        "J1010": 10,
        "J1030": 400,
        "J3301": 170,
        "20610": 6100,
        "17110": 11500,
        "11102": 10400,
        "69210": 4800,
        "G0442": 1900,
        "G0444": 1900,
        "99401": 3600,
    }
)

#: What a payer allows for a code it has no fee for: a share of the billed charge.
UNKNOWN_CODE_RATE = Decimal("0.60")

#: HbA1c (83036) is payable only for diabetes or pre-diabetes care or screening.
DIABETES_DIAGNOSES = ("E08", "E09", "E10", "E11", "E13", "O24", "R73", "Z131")


def scaled(fees: Mapping[str, int], factor: Decimal) -> Mapping[str, int]:
    return MappingProxyType(
        {
            code: int((Decimal(fee) * factor).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            for code, fee in fees.items()
        }
    )


@dataclass(frozen=True, slots=True)
class Benefits:
    """Member cost share. Amounts in cents; coinsurance as a fraction (0.20 = 20%)."""

    deductible_cents: int = 0
    coinsurance: Decimal = Decimal(0)
    copay_cents: int = 0
    #: Codes that carry the per-visit copay (once per claim) instead of deductible/coinsurance.
    copay_codes: frozenset[str] = frozenset()
    #: None: no out-of-pocket maximum.
    oop_max_cents: int | None = None
    #: Codes with no cost share at all.
    no_cost_share: frozenset[str] = PREVENTIVE


@dataclass(frozen=True, slots=True)
class Address:
    line1: str
    city: str
    state: str
    postal_code: str


@dataclass(frozen=True, slots=True)
class PayerPlan:
    payer_id: str
    name: str
    plan: str
    #: X12 claim filing indicator (SBR09 / CLP06): MB Medicare B, MC Medicaid, 12 PPO, 13 POS...
    filing_indicator: str
    fees: Mapping[str, int]
    benefits: Benefits
    timely_filing_days: int
    days_to_pay: int
    #: 835 payment method: ACH or CHK.
    payment_method: str
    tax_id: str
    address: Address
    contact_phone: str
    non_covered: frozenset[str] = frozenset()
    prior_auth_required: frozenset[str] = frozenset()
    #: Code -> diagnosis prefixes (dots removed) that make it medically necessary.
    necessity: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({"83036": DIABETES_DIAGNOSES})
    )
    unknown_code_rate: Decimal = UNKNOWN_CODE_RATE
    #: How it pays as a later payer (services/simulator/secondary.py): "medigap" pays the
    #: prior payer's coinsurance and deductible, "medicaid" the cost sharing up to its own
    #: fee, "commercial" coordinates by its own plan.
    as_secondary: str = "commercial"
    #: Payers this one forwards a paid claim to itself (a crossover: 835 NM1*TT, MA18).
    crosses_over_to: frozenset[str] = frozenset()
    #: Codes it still prices from its previous fee schedule (this year's update not
    #: loaded for them): it allows less than the practice's contract, an underpayment.
    stale_fees: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def fee(self, code: str) -> int | None:
        return self.fees.get(code)

    def price(self, code: str) -> int | None:
        """What it allows a unit of the code: a stale fee where it still has one."""
        return self.stale_fees.get(code) or self.fees.get(code)


MEDICARE = PayerPlan(
    crosses_over_to=frozenset({"MGP01"}),
    payer_id="MCR01",
    name="MEDICARE PART B SIM",
    plan="Medicare Part B",
    filing_indicator="MB",
    fees=MEDICARE_FEES,
    benefits=Benefits(deductible_cents=25700, coinsurance=Decimal("0.20")),
    timely_filing_days=365,
    days_to_pay=14,
    payment_method="ACH",
    tax_id="990000001",
    address=Address("100 TRUST FUND WAY", "BALTIMORE", "MD", "21244"),
    contact_phone="8005550101",
)

PPO = PayerPlan(
    payer_id="PPO01",
    name="BLUE MEADOW PPO",
    plan="Blue Meadow PPO",
    filing_indicator="12",
    fees=scaled(MEDICARE_FEES, Decimal("1.30")),
    benefits=Benefits(
        deductible_cents=50000,
        coinsurance=Decimal("0.20"),
        copay_cents=2500,
        copay_codes=OFFICE_EM,
        oop_max_cents=400000,
    ),
    timely_filing_days=180,
    days_to_pay=21,
    payment_method="ACH",
    tax_id="990000002",
    address=Address("200 MEADOW PKWY", "CHICAGO", "IL", "60601"),
    contact_phone="8005550102",
    prior_auth_required=frozenset({"20610"}),
    # last year's 125 % of the Medicare-like schedule for the established office visits,
    # against this year's contracted 130 % (rcm/demo_contracts.csv)
    stale_fees=scaled(
        {c: f for c, f in MEDICARE_FEES.items() if c in {"99213", "99214", "99215"}},
        Decimal("1.25"),
    ),
)

MEDICAID = PayerPlan(
    payer_id="MCD01",
    name="STATE MEDICAID SIM",
    plan="State Medicaid",
    filing_indicator="MC",
    fees=scaled(MEDICARE_FEES, Decimal("0.70")),
    benefits=Benefits(),
    timely_filing_days=365,
    days_to_pay=30,
    payment_method="CHK",
    tax_id="990000003",
    address=Address("300 CAPITOL AVE", "SACRAMENTO", "CA", "95814"),
    contact_phone="8005550103",
    non_covered=frozenset({"17110"}),
    as_secondary="medicaid",
)

MEDIGAP = PayerPlan(
    payer_id="MGP01",
    name="MEDIGAP PLAN F SIM",
    plan="Medigap Plan F",
    filing_indicator="15",  # CLP06 indemnity insurance (a supplement; 837 SBR09 says CI)
    fees=MEDICARE_FEES,
    benefits=Benefits(),
    timely_filing_days=365,
    days_to_pay=7,
    payment_method="ACH",
    tax_id="990000005",
    address=Address("500 SUPPLEMENT ST", "OMAHA", "NE", "68102"),
    contact_phone="8005550105",
    as_secondary="medigap",
)

HDHP = PayerPlan(
    payer_id="HDHP1",
    name="SUMMIT HDHP",
    plan="Summit HDHP",
    filing_indicator="12",
    fees=scaled(MEDICARE_FEES, Decimal("1.20")),
    benefits=Benefits(
        deductible_cents=300000,
        coinsurance=Decimal("0.10"),
        oop_max_cents=700000,
    ),
    timely_filing_days=365,
    days_to_pay=10,
    payment_method="ACH",
    tax_id="990000004",
    address=Address("400 SUMMIT RD", "DENVER", "CO", "80202"),
    contact_phone="8005550104",
    prior_auth_required=frozenset({"20610"}),
)

PAYERS: Mapping[str, PayerPlan] = MappingProxyType(
    {p.payer_id: p for p in (MEDICARE, PPO, MEDICAID, HDHP, MEDIGAP)}
)


def payer(payer_id: str) -> PayerPlan:
    """The plan for a payer id; KeyError if the simulator does not know it."""
    return PAYERS[payer_id]
