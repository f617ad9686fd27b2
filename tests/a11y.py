"""axe-core (npm, tests/a11y/) run on a page in headless Chromium (Debian's package):
the accessibility rules a page breaks, by rule id. The page is written to a file with
axe and a script that puts axe's verdict into the DOM, which Chromium dumps."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.integration.browser import CHROMIUM, FLAGS

AXE = Path(__file__).parent / "a11y" / "node_modules" / "axe-core" / "axe.min.js"

_RUN = """<script>{axe}</script><script>
axe.run(document, {{runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})
  .then(r => {{ const p = document.createElement('pre'); p.id = 'axe-verdict';
    p.textContent = JSON.stringify(r.violations.map(v => [v.id, v.nodes.length]));
    document.body.appendChild(p); }});
</script>"""


def violations(page: str, workdir: Path) -> dict[str, int]:
    """Rule id -> how many elements break it; {} for a page axe finds nothing wrong with."""
    assert AXE.exists(), "axe-core is not installed: cd tests/a11y && npm ci"
    path = workdir / "a11y-page.html"
    path.write_text(page.replace("</body>", _RUN.format(axe=AXE.read_text()) + "</body>", 1))
    run = subprocess.run(
        [CHROMIUM, *FLAGS, "--allow-file-access-from-files", "--dump-dom", path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    found = re.search(r'<pre id="axe-verdict">(.*?)</pre>', run.stdout, re.S)
    assert found, f"axe did not report: {run.stderr[-500:]}"
    return dict(json.loads(found.group(1).replace("&quot;", '"')))
