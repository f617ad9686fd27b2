"""Several checkouts' stacks on one machine: a fleet's ports move with its offset."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcm.processes import SERVICES, Fleet, fleet_env
from runtime.settings import Settings

pytestmark = pytest.mark.unit


def with_core_certificates(tmp_path: Path) -> Path:
    """A stack directory as `rcm stack up` leaves it: the CORE endpoint's certificate."""
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "server.crt").write_text("certificate")
    return tmp_path


def test_without_an_offset_the_services_keep_their_ports(tmp_path: Path) -> None:
    env = fleet_env(Settings(http_port_offset=0, stack_dir=with_core_certificates(tmp_path)))
    assert not {"RCM_HTTP_PORT_OFFSET", "RCM_GATEWAY_PORT", "RCM_CLEARINGHOUSE_URL"} & set(env)
    fleet = Fleet(Path("logs"), env=env)
    assert fleet.port("claims") == SERVICES["claims"] == 6103
    assert fleet.port("claims#2") == 6303


def test_an_offset_moves_every_port_the_gateway_and_the_clearinghouse(tmp_path: Path) -> None:
    env = fleet_env(Settings(http_port_offset=1000, stack_dir=with_core_certificates(tmp_path)))
    assert env["RCM_HTTP_PORT_OFFSET"] == "1000"
    assert env["RCM_GATEWAY_PORT"] == "7100"
    assert env["RCM_CLEARINGHOUSE_URL"] == "https://127.0.0.1:7156"  # its CORE endpoint
    fleet = Fleet(Path("logs"), env=env)
    assert fleet.port("gateway") == 7100
    assert fleet.port("simulator") == 7106
    assert fleet.port("coding#1") == 7202


def test_without_core_certificates_the_fleet_asks_the_simulators_plain_endpoint(
    tmp_path: Path,
) -> None:
    """An external stack has no local CA: the simulator then answers CORE on its ops port
    over plain HTTP, and the fleet is pointed there (never at an HTTPS port no one serves)."""
    assert fleet_env(Settings(http_port_offset=0, stack_dir=tmp_path))["RCM_CLEARINGHOUSE_URL"] == (
        "http://127.0.0.1:6106"
    )
    env = fleet_env(Settings(http_port_offset=1000, stack_dir=tmp_path))
    assert env["RCM_CLEARINGHOUSE_URL"] == "http://127.0.0.1:7106"


def test_a_clearinghouse_set_by_hand_is_left_alone() -> None:
    s = Settings(http_port_offset=1000, clearinghouse_url="https://ch.example/x12")
    assert "RCM_CLEARINGHOUSE_URL" not in fleet_env(s)


def test_core_requests_join_the_transport_block_or_make_it() -> None:
    from rcm.transport_core import with_core

    sftp_first = {"transport": {"sftp_uploaded": 3, "imported": 0}, "claims": 5}
    assert with_core(sftp_first, 7)["transport"] == {
        "sftp_uploaded": 3,
        "imported": 0,
        "core_requests": 7,
    }
    assert with_core({"claims": 5}, 2) == {"claims": 5, "transport": {"core_requests": 2}}
