"""pyx12's x12valid, read the way it must be read: it reports each file on stderr as
"<path>: OK" or "<path>: Failure" and logs each problem at ERROR level; its exit status
says nothing about validity. For an 835 it also tries to build its own 999 and logs
"Failed to create 999 response" because a 5010 835 carries no ST03: that is about
pyx12's acknowledgement, not the file."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

NOT_ABOUT_THE_FILE = "Failed to create 999 response"


def x12valid() -> str:
    exe = Path(sys.executable).with_name("x12valid")
    cmd = str(exe) if exe.exists() else shutil.which("x12valid")
    assert cmd, "pyx12's x12valid is not installed"
    return cmd


def problems(path: Path, text: str) -> list[str]:
    """Writes ``text`` to ``path`` and returns what pyx12 finds wrong with it: its ERROR
    lines, or its last lines when it does not say the file is OK."""
    path.write_text(text, encoding="ascii")
    proc = subprocess.run(
        [x12valid(), str(path)], capture_output=True, text=True, timeout=300, check=False
    )
    lines = (proc.stdout + proc.stderr).splitlines()
    errors = [ln for ln in lines if " ERROR " in ln and NOT_ABOUT_THE_FILE not in ln]
    if f"{path}: OK" not in lines or f"{path}: Failure" in lines:
        return errors or lines[-30:]
    return errors
