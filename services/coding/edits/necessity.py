"""DX-NECESSITY (hold, per line): a lab or screening test that points at no diagnosis
its medical-necessity table says supports it.

The table is data (:func:`services.coding.reference.necessity`): the bundled
``data/necessity.csv`` is a small project default, not CMS's coverage determinations;
a practice loads its NCD/LCD tables with ``RCM_CODING_NECESSITY_FILE``. A procedure not
in the table is not checked. Modifier GA (ABN on file), GZ or GY (expected denial)
turns the hold into a warning: the claim goes out knowing it may be denied.
"""

from __future__ import annotations

from services.coding.codesets import in_ranges
from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, WARN, Flag
from services.coding.reference import necessity

ABN_MODIFIERS = frozenset({"GA", "GZ", "GY"})


def unsupported_tests(f: ClaimFacts) -> list[Flag]:
    found: list[Flag] = []
    for n, line in enumerate(f.lines, start=1):
        table = necessity(line.procedure_code)
        points = f.pointers[n - 1]
        if table is None or not points:
            continue
        keys = [f.keys[p - 1] for p in points if p <= len(f.keys)]
        if any(k is not None and in_ranges(k, table.ranges) for k in keys):
            continue
        names = ", ".join(f"'{f.diagnoses[p - 1]}'" for p in points if p <= len(f.diagnoses))
        abn = bool(ABN_MODIFIERS.intersection(line.modifiers))
        found.append(
            Flag(
                "DX-NECESSITY",
                WARN if abn else HOLD,
                n,
                f"line {n}: '{line.procedure_code}' points at {names}, none of which "
                f"supports it in the medical-necessity table ({table.source})",
                f"point line {n} at the documented diagnosis the test was ordered for; if "
                "none supports it, get an ABN and append GA (or GZ)",
            )
        )
    return found
