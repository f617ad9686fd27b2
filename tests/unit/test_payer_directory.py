"""The payer directory file: what a row says, and each bad row named by row and column;
claims settings that differ in production."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcm.cli_payers import DEMO_PAYERS
from rcm.processes import fleet_env
from runtime.settings import ProductionRefused, Settings
from services.claims.config import REAL_DAY_S, ClaimsSettings
from services.claims.payers import PayerFileError, parse, refusal
from services.coding.reference import PAYERS_FILE, read_payer_file
from services.gateway.config import GatewaySettings
from services.statements.config import StatementSettings
from services.statements.domain import qmb
from tests.unit import factories as f

pytestmark = pytest.mark.unit

HEADER = (
    "payer_id,name,filing_indicator,timely_filing_days,days_to_pay,realtime_270,enroll_claims\n"
)


def test_a_real_medicare_id_is_medicare_because_the_row_says_so() -> None:
    [medicare, ppo] = parse(
        HEADER + "04412,NORIDIAN JE PART B,MB,365,14,yes,enrolled\n00431,BLUE PPO,12,90,21,,\n"
    )
    assert (medicare.payer_id, medicare.filing_indicator, medicare.realtime_270) == (
        "04412",
        "MB",
        True,
    )
    assert (medicare.timely_filing_days, medicare.days_to_pay) == (365, 14)
    assert (ppo.filing_indicator, ppo.realtime_270, ppo.enroll_claims) == (
        "12",
        False,
        "not_required",
    )


@pytest.mark.parametrize(
    ("row", "named"),
    [
        ("04412,MEDICARE,XX,365,14,,", "row 2, column filing_indicator"),
        ("04412,MEDICARE,MB,0,14,,", "row 2, column timely_filing_days"),
        ("04412,MEDICARE,MB,365,soon,,", "row 2, column days_to_pay"),
        ("04412,MEDICARE,MB,365,14,maybe,", "row 2, column realtime_270"),
        ("04412,MEDICARE,MB,365,14,,signed", "row 2, column enroll_claims"),
        ("04 412,MEDICARE,MB,365,14,,", "row 2, column payer_id"),
        ("04412,,MB,365,14,,", "row 2, column name"),
    ],
)
def test_a_bad_row_is_named_by_row_and_column(row: str, named: str) -> None:
    with pytest.raises(PayerFileError, match=named):
        parse(HEADER + row + "\n")


def test_a_payer_twice_and_a_bad_header_are_named() -> None:
    with pytest.raises(PayerFileError, match="row 3, column payer_id: 04412 is already on row 2"):
        parse(HEADER + "04412,A,MB,365,14,,\n04412,B,MB,365,14,,\n")
    with pytest.raises(PayerFileError, match=r"row 1: header lacks column.*days_to_pay"):
        parse("payer_id,name,filing_indicator,timely_filing_days\n04412,A,MB,365\n")
    with pytest.raises(PayerFileError, match=r"row 1: unknown column.*colour"):
        parse(HEADER.strip() + ",colour\n04412,A,MB,365,14,,,red\n")


def test_why_a_claim_cannot_go_names_the_payer() -> None:
    [p] = parse(HEADER + "04412,MEDICARE,MB,365,14,,pending\n")
    assert refusal("04412", "t1", None) == (
        "PAYER-UNKNOWN",
        "payer 04412 is not in tenant t1's payer directory (add it with `rcm payers import`)",
    )
    assert refusal("04412", "t1", p) == (
        "PAYER-NOT-ENROLLED",
        "payer 04412: claims enrollment is pending",
    )
    ok = parse(HEADER + "04412,MEDICARE,MB,365,14,,enrolled\n")[0]
    assert refusal("04412", "t1", ok) is None


def test_the_demo_directory_parses_and_names_its_medicare_and_medicaid() -> None:
    demo = {p.payer_id: p.filing_indicator for p in parse(DEMO_PAYERS.read_text())}
    assert (demo["MCR01"], demo["MCD01"], demo["PPO01"]) == ("MB", "MC", "CI")


def test_a_payer_day_is_a_real_day_in_production_and_compression_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert ClaimsSettings().seconds_per_payer_day == 4.0  # dev: the demo's compressed day
    monkeypatch.setenv("RCM_ENV", "production")
    cfg = ClaimsSettings()
    assert cfg.seconds_per_payer_day == REAL_DAY_S
    assert cfg.remit_wait_s(14) == 14 * 86400
    monkeypatch.setenv("RCM_CLAIMS_SECONDS_PER_PAYER_DAY", "4")
    with pytest.raises(ProductionRefused, match="RCM_CLAIMS_SECONDS_PER_PAYER_DAY"):
        ClaimsSettings()


def test_qmb_knows_medicare_by_filing_indicator_not_by_id(tmp_path: Path) -> None:
    """A real Medicare id (04412) and a Medicaid QMB plan (SKCO0): QMB, from the directory
    file or from the coverage itself; an id spelled MCR* that the directory calls
    commercial is not Medicare."""
    medicare = f.coverage(payer_id="04412", plan="MEDICARE PART B", filing_indicator=None)
    medicaid = f.coverage(payer_id="SKCO0", plan="MEDICAID QMB", priority=2, filing_indicator=None)
    directory = tmp_path / "payers.csv"
    directory.write_text(
        "payer_id,name,filing_indicator,timely_filing_days,days_to_pay\n"
        "04412,NORIDIAN JE PART B,MB,365,14\nSKCO0,STATE MEDICAID,MC,365,30\n"
        "MCR99,A COMMERCIAL PLAN,CI,180,21\n"
    )
    filing = StatementSettings(payers_file=directory).filing_indicators()
    assert qmb([medicare, medicaid], f.DOS, filing)
    assert not qmb([medicare, medicaid], f.DOS)  # nothing says which is Medicare
    said = [
        c.model_copy(update={"filing_indicator": k})
        for c, k in ((medicare, "MB"), (medicaid, "MC"))
    ]
    assert qmb(said, f.DOS)
    lookalike = f.coverage(payer_id="MCR99", plan="MEDICARE-ISH PPO", filing_indicator=None)
    assert not qmb([lookalike, medicaid], f.DOS, filing)


def test_coding_and_the_fleet_read_the_same_payer_list_as_the_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One source of truth: coding's bundled list of known payers is the demo directory's
    ids, and the fleet points coding and statements at the directory file itself."""
    monkeypatch.delenv("RCM_CODING_PAYERS_FILE", raising=False)
    monkeypatch.delenv("RCM_STATEMENTS_PAYERS_FILE", raising=False)
    directory = {p.payer_id: p.name for p in parse(DEMO_PAYERS.read_text())}
    assert read_payer_file(PAYERS_FILE) == directory
    assert read_payer_file(DEMO_PAYERS) == directory
    env = fleet_env(Settings(env="dev"))
    assert env["RCM_CODING_PAYERS_FILE"] == env["RCM_STATEMENTS_PAYERS_FILE"] == str(DEMO_PAYERS)


def test_the_ops_dashboard_counts_real_days_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    """A claim waiting 10 minutes for its 835 is stuck in the demo's time, not in a real
    payer's: production's limits are days, unless set."""
    assert GatewaySettings().stuck_limits()["ACCEPTED"] == 600
    monkeypatch.setenv("RCM_ENV", "production")
    assert GatewaySettings().stuck_limits()["ACCEPTED"] == 45 * 86400
    monkeypatch.setenv("RCM_GATEWAY_OPS_STUCK_LIMITS", "ACCEPTED:99")
    assert GatewaySettings().stuck_limits() == {"ACCEPTED": 99}
