"""A new local database forgets the old one's mailbox files: the control numbers start
again at 1, and an 837 left in the mailbox from the old database would make the
clearinghouse refuse the new interchange that reuses its number (seen in a benchmark run
on a re-made database: every claim stayed SUBMITTED, "duplicate-interchange")."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcm import stack_sftp
from runtime.settings import Settings

pytestmark = pytest.mark.unit


def test_the_old_databases_files_go_and_the_folders_stay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack_sftp, "server_dir", lambda s: tmp_path)
    old = {
        "chroot/outbound/RCMPIPELINE_000000001_20261207231853.837": "ISA*00*",
        "chroot/inbound/SIM000000001.999": "ISA*00*",
        "chroot/archive/RCMPIPELINE_000000002_20261207231853.837": "ISA*00*",
        "clearinghouse/archive/RCMPIPELINE_000000003_20261207231853.837": "ISA*00*",
    }
    for name, text in old.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "host_key").write_text("a key the server keeps")

    assert stack_sftp.forget_mailbox(Settings()) == 4

    assert not [p for p in (tmp_path / "chroot").rglob("*") if p.is_file()]
    assert not [p for p in (tmp_path / "clearinghouse").rglob("*") if p.is_file()]
    for folder in ("chroot/outbound", "chroot/inbound", "chroot/archive"):
        assert (tmp_path / folder).is_dir()  # the account's folders stay for sshd
    assert (tmp_path / "host_key").read_text() == "a key the server keeps"


def test_no_mailbox_yet_is_nothing_to_forget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack_sftp, "server_dir", lambda s: tmp_path / "never-made")
    assert stack_sftp.forget_mailbox(Settings()) == 0
