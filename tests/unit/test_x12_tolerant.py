"""Files the way payers really send them: a clean 835 and 271 built with the project's own
writers (the simulated payer's), mutated one recoverable fault at a time, read to the
same money and the same answer as the clean file, each fault a warning naming its segment
number, segment id and element position; what cannot be read unambiguously is refused
with the exact reason. The faults are those found in public payer samples and the issue
(LinuxForHealth/x12's 835 and 271 samples were read for their shapes, none is copied)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rcm.cli_x12 import UNBALANCED
from rcm.cli_x12 import app as x12_cli
from runtime.x12 import X12Error, X12Warning
from services.claims.x12_276 import read_277
from services.eligibility.domain import inquiry_for, precheck
from services.eligibility.x12_270 import write_270
from services.eligibility.x12_271 import Reply, parse_271
from services.remittance.x12_835.balancing import balance_problems
from services.remittance.x12_835.model import Remittance
from services.remittance.x12_835.reader import parse_835
from services.simulator.eligibility import Met, judge, read_270, write_271
from services.simulator.samples import Line837 as L
from services.simulator.x12_835 import interest
from tests.builders import encounter
from tests.unit.test_claims_x12_276 import ANSWER as ANSWER_277
from tests.unit.test_eligibility_decide import ENV, enrolled, ppo
from tests.unit.test_simulator_835 import adjudicated, remit_835

pytestmark = pytest.mark.unit

CLEAN_835 = remit_835(
    [
        adjudicated("PPO01", "PCN-A"),
        adjudicated("PPO01", "PCN-B", L("99213", "120"), L("81002", "12")),
    ],
    plb=(interest(125, "PCN-A"),),
    payer_id="PPO01",
)


def _clean_271() -> str:
    enc = encounter(coverages=[ppo()])
    verify = precheck("C1", enc, list(enc.coverages))
    inq = inquiry_for(enc, verify.primary, trace="1")  # type: ignore[union-attr]
    theirs = read_270(write_270(inq, envelope=ENV))
    enr = enrolled(enc.coverages[0])
    return write_271(theirs, judge(theirs, enr), enr, Met(), envelope=ENV)


CLEAN_271 = _clean_271()


def money(rem: Remittance) -> Any:
    """Everything an 835 says about money, in cents: what posting reads."""
    return (
        [(p.amount.cents, p.credit_debit, p.trace_number) for p in rem.payments],
        [
            (
                c.patient_control_number,
                c.status_code,
                c.charge.cents,
                c.paid.cents,
                c.patient_responsibility_cents,
                [(a.group, a.reason, a.amount.cents) for a in c.all_adjustments],
                [(ln.procedure, ln.modifiers, ln.charge.cents, ln.paid.cents) for ln in c.lines],
            )
            for c in rem.claims
        ],
        [(p.reason, p.reference, p.amount.cents) for p in rem.provider_adjustments],
    )


def answer(reply: Reply) -> Any:
    """What a 271 says about each person: who, active, benefits and their amounts."""
    return [
        (
            r.member_id,
            r.active,
            [(b.code, b.service_types, b.amount_cents, b.percent) for b in r.benefits],
        )
        for r in reply.responses
    ]


def _nth_se(text: str, change: Callable[[list[str]], None], sid: str) -> str:
    """``text`` with the elements of its (only) ``sid`` segment changed."""
    segs = text.split("~")
    k = next(i for i, s in enumerate(segs) if s.lstrip().startswith(sid + "*"))
    els = segs[k].split("*")
    change(els)
    segs[k] = "*".join(els)
    return "~".join(segs)


def _set(pos: int, value: str) -> Callable[[list[str]], None]:
    def change(els: list[str]) -> None:
        els[pos] = value

    return change


def _unpadded_isa(text: str) -> str:
    els = text[:106].split("*")
    els[6], els[8] = els[6].strip(), els[8].strip()
    return "*".join(els) + text[106:]


# (name, mutation, the (segment id, element position) of the warning it must give)
TOLERATED_835: list[tuple[str, Callable[[str], str], tuple[str, int]]] = [
    ("SE01 count", lambda t: _nth_se(t, _set(1, "44"), "SE"), ("SE", 1)),
    ("SE02 not ST02", lambda t: _nth_se(t, _set(2, "0009"), "SE"), ("SE", 2)),
    ("GE01 count", lambda t: _nth_se(t, _set(1, "2"), "GE"), ("GE", 1)),
    ("GE02 not GS06", lambda t: _nth_se(t, _set(2, "17"), "GE"), ("GE", 2)),
    ("IEA01 count", lambda t: _nth_se(t, _set(1, "3"), "IEA"), ("IEA", 1)),
    ("IEA02 not ISA13", lambda t: _nth_se(t, _set(2, "000000002"), "IEA"), ("IEA", 2)),
    (
        "service date not a date",
        lambda t: t.replace("DTM*472*20250303", "DTM*472*20250230", 1),
        ("DTM", 2),
    ),
    ("BPR16 not a date", lambda t: t.replace("*20250311~TRN", "*2025-3-11~TRN"), ("BPR", 16)),
    ("PLB02 not a date", lambda t: t.replace("*20251231*L6", "*20251331*L6"), ("PLB", 2)),
    ("SVC01 other separator", lambda t: t.replace("SVC*HC:99214", "SVC*HC>99214"), ("SVC", 1)),
    ("PLB03 other separator", lambda t: t.replace("L6:PCN-A", "L6>PCN-A"), ("PLB", 3)),
    ("spaces between segments", lambda t: t.replace("~CLP", "~  \t\r\nCLP"), ("CLP", 0)),
    ("lower-case segment id", lambda t: t.replace("~CAS*", "~cas*"), ("CAS", 0)),
    ("unpadded ISA", _unpadded_isa, ("ISA", 16)),
    ("no terminator after IEA", lambda t: t.rstrip("~\n"), ("IEA", 2)),
    ("spaces around an amount", lambda t: t.replace("*190*125*", "* 190*125*"), ("CLP", 3)),
]


@pytest.mark.parametrize(
    ("mutate", "where"), [pytest.param(m, w, id=n) for n, m, w in TOLERATED_835]
)
def test_a_tolerated_835_fault_reads_to_the_clean_files_money_with_a_warning(
    mutate: Callable[[str], str], where: tuple[str, int]
) -> None:
    clean = parse_835(CLEAN_835)
    assert clean.warnings == ()
    text = mutate(CLEAN_835)
    assert text != CLEAN_835
    rem = parse_835(text)
    assert money(rem) == money(clean)
    assert balance_problems(rem) == []
    assert [(w.segment_id, w.position) for w in rem.warnings] == [where]
    _points_at(text, rem.warnings[0])


def _points_at(text: str, w: X12Warning) -> None:
    """The warning's segment number is the segment with its id in the file."""
    segs = [s.strip() for s in text.split("~") if s.strip()]
    assert segs[w.segment - 1].upper().startswith(w.segment_id + "*"), (w, segs[w.segment - 1])


def test_every_fault_at_once_still_reads_the_same_money() -> None:
    text = CLEAN_835
    for _, mutate, _ in TOLERATED_835:
        text = mutate(text)
    rem = parse_835(text)
    assert money(rem) == money(parse_835(CLEAN_835))
    assert {(w.segment_id, w.position) for w in rem.warnings} == {w for _, _, w in TOLERATED_835}


def test_a_fault_repeated_in_many_segments_is_one_warning_with_its_count() -> None:
    rem = parse_835(CLEAN_835.replace("~CAS*", "~cas*"))
    [w] = rem.warnings
    assert (w.segment_id, w.count) == ("CAS", CLEAN_835.count("~CAS*"))
    assert w.message == "segment id 'cas' in lower case, read as CAS"


REFUSED_835: list[tuple[str, Callable[[str], str], str]] = [
    (
        "no ISA",
        lambda t: t[t.index("GS*") :],
        "not X12: expected ISA, found 'GS*' (segment 1, position 0)",
    ),
    (
        "claim loop without its transaction end",
        lambda t: t.replace("SE*45*0001~", ""),
        "GE inside transaction 0001 (no SE before it) (segment 47, position 0)",
    ),
    (
        "service line before any claim",
        lambda t: t.replace("LX*1~", "LX*1~SVC*HC:99214*150*125**1~"),
        "SVC outside a claim (no CLP before it) (segment 16, position 0)",
    ),
    (
        "a composite two ways",
        lambda t: t.replace("SVC*HC:99214", "SVC*HC>99214|26"),
        "SVC01 is not a qualifier:procedure composite: 'HC>99214|26' (segment 19, position 1)",
    ),
    (
        "fractions of a cent",
        lambda t: t.replace("*190*125*", "*190*125.005*"),
        "CLP04 is not a decimal amount: '125.005' (segment 16, position 4)",
    ),
    (
        "a 30-digit amount",
        lambda t: t.replace("*190*125*", "*190*" + "9" * 30 + "*"),
        "CLP04 is 30 characters long, an amount has at most 18 digits (segment 16, position 4)",
    ),
    (
        "a 4,300-digit amount",
        lambda t: t.replace("*190*125*", "*190*" + "1" * 4300 + "*"),
        "CLP segment is 4348 characters long (at most 4096); its element 4 alone is 4300 "
        "(segment 16, position 4)",
    ),
    (
        "a 1 MB claim number",
        lambda t: t.replace("CLP*PCN-A*", "CLP*" + "P" * 2**20 + "*"),
        "CLP segment is 1048622 characters long (at most 4096); its element 1 alone is "
        "1048576 (segment 16, position 1)",
    ),
    (
        "the same interchange twice in one file",
        lambda t: t + t,
        "interchange 000009001 from sender 'SIMCH' repeats the one at segment 1: the same "
        "interchange twice in one file (segment 50, position 13)",
    ),
    (
        "the same payment twice in one file",
        lambda t: t + t.replace("*000009001*", "*000009002*").replace("*000009001~", "*000009002~"),
        "TRN02 'TRACE0001' repeats the payment trace of segment 5: one payment in one file "
        "twice would post twice (segment 54, position 2)",
    ),
    (
        "cut off inside a claim",
        lambda t: t[: t.index("CAS*PR*3*25") + 8],
        "truncated: CAS is cut off (no segment terminator '~' after it) (segment 21, position 2)",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "reason"), [pytest.param(m, r, id=n) for n, m, r in REFUSED_835]
)
def test_an_unrecoverable_835_is_refused_with_the_exact_reason(
    mutate: Callable[[str], str], reason: str
) -> None:
    with pytest.raises(X12Error) as err:
        parse_835(mutate(CLEAN_835))
    assert str(err.value) == reason


def test_money_that_does_not_balance_is_read_but_never_passes_the_balance_check() -> None:
    rem = parse_835(CLEAN_835.replace("CAS*PR*3*25~AMT*B6*150", "CAS*PR*3*24~AMT*B6*150"))
    assert balance_problems(rem) == [
        "claim PCN-A line 1 (99214, segment 19): charge 150.00 - paid 125.00 = 25.00 but its "
        "adjustments total 24.00, off by 100 cents",
        "claim PCN-A (segment 16): charge 190.00 - paid 125.00 = 65.00 but claim and line "
        "adjustments total 64.00, off by 100 cents",
    ]


# --- rcm x12 parse-835 / parse-271 -------------------------------------------------------


def test_parse_835_prints_the_warnings_and_exits_0_on_a_tolerated_file(tmp_path: Path) -> None:
    path = tmp_path / "era.835"
    path.write_text(_nth_se(CLEAN_835, _set(1, "44"), "SE"))
    result = CliRunner().invoke(x12_cli, ["parse-835", str(path)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["warnings"] == [
        {
            "segment": 47,
            "segment_id": "SE",
            "position": 1,
            "message": "SE01 says '44' segments, transaction 0001 has 45",
            "count": 1,
        }
    ]
    assert [c["paid"] for c in out["claims"]] == [
        "125",
        "90",
    ]  # the PPO pays 99213 at last year's fees
    assert "problems" not in out


def test_parse_835_on_an_unbalanced_file_reports_problems_and_exits_non_zero(
    tmp_path: Path,
) -> None:
    path = tmp_path / "era.835"
    paid = CLEAN_835.split("BPR*I*", 1)[1].split("*", 1)[0]
    one_cent_more = f"{Decimal(paid) + Decimal('0.01')}"
    path.write_text(CLEAN_835.replace(f"BPR*I*{paid}*", f"BPR*I*{one_cent_more}*"))
    result = CliRunner().invoke(x12_cli, ["parse-835", str(path)])
    assert result.exit_code == UNBALANCED
    out = json.loads(result.stdout)
    [problem] = out["problems"]
    assert (problem["scope"], problem["off_by_cents"]) == ("payment", 1)
    assert result.stderr.startswith(f"error: {path}: does not balance (1 problems): payment")


def test_parse_835_refuses_a_file_too_large_before_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("services.remittance.x12_835.reader.MAX_FILE", 1000)
    path = tmp_path / "big.835"
    path.write_text(CLEAN_835)
    result = CliRunner().invoke(x12_cli, ["parse-835", str(path)])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"error: {path}: the file is {len(CLEAN_835):,} bytes, more than the 1,000 an X12 "
        "file may have"
    )


# --- 271 ---------------------------------------------------------------------------------

TOLERATED_271: list[tuple[str, Callable[[str], str], tuple[str, int]]] = [
    ("SE01 count", lambda t: _nth_se(t, _set(1, "20"), "SE"), ("SE", 1)),
    ("SE02 not ST02", lambda t: _nth_se(t, _set(2, "0002"), "SE"), ("SE", 2)),
    ("GE01 count", lambda t: _nth_se(t, _set(1, "2"), "GE"), ("GE", 1)),
    ("GE02 not GS06", lambda t: _nth_se(t, _set(2, "6"), "GE"), ("GE", 2)),
    ("IEA01 count", lambda t: _nth_se(t, _set(1, "0"), "IEA"), ("IEA", 1)),
    ("IEA02 not ISA13", lambda t: _nth_se(t, _set(2, "000000006"), "IEA"), ("IEA", 2)),
    (
        "plan date not a date",
        lambda t: t.replace("DTP*346*D8*20250101", "DTP*346*D8*20251301"),
        ("DTP", 3),
    ),
    ("spaces between segments", lambda t: t.replace("~EB*C", "~ \r\n EB*C", 1), ("EB", 0)),
    ("lower-case segment id", lambda t: t.replace("~EB*A*", "~eb*A*"), ("EB", 0)),
    ("unpadded ISA", _unpadded_isa, ("ISA", 16)),
    ("no terminator after IEA", lambda t: t.rstrip("~\n"), ("IEA", 2)),
]


@pytest.mark.parametrize(
    ("mutate", "where"), [pytest.param(m, w, id=n) for n, m, w in TOLERATED_271]
)
def test_a_tolerated_271_fault_reads_to_the_clean_answer_with_a_warning(
    mutate: Callable[[str], str], where: tuple[str, int]
) -> None:
    clean = parse_271(CLEAN_271)
    assert clean.warnings == ()
    assert answer(clean)[0][1] is True
    text = mutate(CLEAN_271)
    reply = parse_271(text)
    assert answer(reply) == answer(clean)
    assert [(w.segment_id, w.position) for w in reply.warnings] == [where]
    _points_at(text, reply.warnings[0])


REFUSED_271: list[tuple[str, Callable[[str], str], str]] = [
    (
        "missing GE",
        lambda t: re.sub(r"GE\*[^~]*~", "", t),
        "IEA before GE (the group is not closed) (segment 24, position 0)",
    ),
    (
        "an ISA inside an open interchange",
        lambda t: t.replace("GS*HB*", t[: t.index("GS*")] + "GS*HB*"),
        "ISA before the previous IEA (segment 2, position 0)",
    ),
    (
        "the same interchange twice",
        lambda t: t + t,
        "interchange 000000005 repeats the one at segment 1 (segment 26, position 13)",
    ),
    (
        "a repetition separator that is a letter",
        lambda t: t[:82] + "U" + t[83:],
        "ISA11 'U' is not a usable repetition separator (segment 1, position 11)",
    ),
    (
        "no ISA",
        lambda t: t[t.index("GS*") :],
        "not X12: expected ISA, found 'GS*' (segment 1, position 0)",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "reason"), [pytest.param(m, r, id=n) for n, m, r in REFUSED_271]
)
def test_an_unrecoverable_271_is_refused_with_the_exact_reason(
    mutate: Callable[[str], str], reason: str
) -> None:
    with pytest.raises(X12Error) as err:
        parse_271(mutate(CLEAN_271))
    assert str(err.value) == reason


def test_parse_271_prints_the_warnings_and_exits_0_on_a_tolerated_file(tmp_path: Path) -> None:
    path = tmp_path / "answer.271"
    path.write_text(CLEAN_271.replace("DTP*346*D8*20250101", "DTP*346*D8*2025011"))
    result = CliRunner().invoke(x12_cli, ["parse-271", str(path)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["responses"][0]["active"] is True
    assert out["warnings"] == [
        {
            "segment": 13,
            "segment_id": "DTP",
            "position": 3,
            "message": "DTP03 is not a CCYYMMDD date: '2025011' (segment 13, position 3): "
            "the date is not kept",
            "count": 1,
        }
    ]


# --- 277 (claim status) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        pytest.param(lambda t: t.replace("STC*F1:65:PR", "STC*F1>65>PR"), ("STC", 1), id="STC01"),
        pytest.param(lambda t: t.replace("~TRN*2", "~trn*2"), ("TRN", 0), id="lower-case id"),
        pytest.param(lambda t: t.replace("~REF*1K", "~\n  REF*1K"), ("REF", 0), id="spaces"),
        pytest.param(lambda t: t.rstrip("~"), ("IEA", 2), id="no terminator after IEA"),
    ],
)
def test_a_tolerated_277_fault_reads_to_the_same_status(
    mutate: Callable[[str], str], where: tuple[str, int]
) -> None:
    clean = read_277(ANSWER_277)
    assert clean.warnings == ()
    answer = read_277(mutate(ANSWER_277))
    assert (answer.statuses, answer.traces, answer.payer_claim_number) == (
        clean.statuses,
        clean.traces,
        clean.payer_claim_number,
    )
    assert [(w.segment_id, w.position) for w in answer.warnings] == [where]
