"""Reading the clearinghouse's answers to our 837s: the 999 (X231A1: was each
transaction set accepted, and if not, which segment and element were wrong) and the
277CA (X214: was each claim accepted into the payer's system). Pure: text in, what it
says out, every error code put in words a biller can act on. A bad value a 999 quotes
(IK404) is not repeated: it may be a patient's identifier."""

from __future__ import annotations

from dataclasses import dataclass, field

from runtime.x12 import segments

#: IK304: what is wrong with a segment.
SEGMENT_ERRORS = {
    "1": "unrecognized segment ID",
    "2": "unexpected segment",
    "3": "required segment missing",
    "4": "loop occurs over maximum times",
    "5": "segment exceeds maximum use",
    "6": "segment not in defined transaction set",
    "7": "segment not in proper sequence",
    "8": "segment has data element errors",
    "I4": "implementation 'not used' segment present",
    "I6": "implementation dependent segment missing",
    "I7": "implementation loop occurs under minimum times",
    "I8": "implementation segment below minimum use",
    "I9": "implementation dependent 'not used' segment present",
}
#: IK403: what is wrong with an element.
ELEMENT_ERRORS = {
    "1": "required data element missing",
    "2": "conditional required data element missing",
    "3": "too many data elements",
    "4": "data element too short",
    "5": "data element too long",
    "6": "invalid character in data element",
    "7": "invalid code value",
    "8": "invalid date",
    "9": "invalid time",
    "10": "exclusion condition violated",
    "12": "too many repetitions",
    "13": "too many components",
    "I6": "code value not used in implementation",
    "I9": "implementation dependent data element missing",
    "I10": "implementation 'not used' data element present",
    "I11": "implementation too few repetitions",
    "I12": "implementation pattern match failure",
    "I13": "implementation dependent 'not used' data element present",
}
#: IK502-IK506: why a transaction set was rejected.
SET_ERRORS = {
    "1": "transaction set not supported",
    "2": "transaction set trailer missing",
    "3": "transaction set control number in header and trailer do not match",
    "4": "number of included segments does not match actual count",
    "5": "one or more segments in error",
    "6": "missing or invalid transaction set identifier",
    "7": "missing or invalid transaction set control number",
    "18": "transaction set not in functional group",
    "19": "invalid transaction set implementation convention reference",
    "23": "transaction set control number not unique within the functional group",
    "I5": "implementation one or more segments in error",
    "I6": "implementation convention not supported",
}
#: IK501 / AK901: the verdict; only these accept the set (E: with errors noted).
ACCEPTED_999 = {"A", "E"}
#: 277CA STC01-1 categories that reject a claim, in words.
REJECTED_277 = {
    "A3": "returned as unprocessable claim",
    "A4": "not found",
    "A6": "rejected for missing information",
    "A7": "rejected for invalid information",
    "A8": "rejected for relational field in error",
}


@dataclass
class SetAnswer:
    """One AK2 ... IK5 of a 999: the 837 set (ST02) and its verdict."""

    control_number: str
    accepted: bool
    errors: list[str] = field(default_factory=list)


@dataclass
class GroupAnswer:
    """One AK1 ... AK9 of a 999: the 837 group (GS06) and its sets' verdicts."""

    control_number: str
    accepted: bool = True
    sets: list[SetAnswer] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class ClaimAnswer:
    """One claim of a 277CA (2200D): its CLM01, verdict and the status in words."""

    patient_control_number: str
    accepted: bool
    errors: list[tuple[str, str]] = field(default_factory=list)  # (STC01, words)


def read_999(text: str) -> list[GroupAnswer]:
    """Every functional group a 999 answers."""
    d, segs = segments(text)
    groups: list[GroupAnswer] = []
    current: SetAnswer | None = None
    where = ""
    for seg in segs:
        tag = seg[0]
        if tag == "AK1":
            groups.append(GroupAnswer(_el(seg, 2)))
        elif tag == "AK2" and groups:
            current = SetAnswer(_el(seg, 2), True)
            groups[-1].sets.append(current)
        elif tag == "IK3" and current is not None:
            why = SEGMENT_ERRORS.get(_el(seg, 4), f"segment error {_el(seg, 4)}")
            where = f"segment {_el(seg, 1)} (position {_el(seg, 2)})"
            current.errors.append(f"{where}: {why}")
        elif tag == "IK4" and current is not None:
            element = _el(seg, 1).split(d.component)[0]
            why = ELEMENT_ERRORS.get(_el(seg, 3), f"element error {_el(seg, 3)}")
            current.errors.append(f"{where or 'a segment'} element {element}: {why}")
        elif tag == "IK5" and current is not None:
            current.accepted = _el(seg, 1) in ACCEPTED_999
            if not current.accepted:
                codes = [c for c in seg[2:7] if c]
                current.errors += [SET_ERRORS.get(c, f"set error {c}") for c in codes]
                if not current.errors:
                    current.errors.append(f"transaction set rejected ({_el(seg, 1)})")
            current, where = None, ""
        elif tag == "AK9" and groups:
            groups[-1].accepted = _el(seg, 1) in ACCEPTED_999 | {"P"}
            if not groups[-1].accepted:
                groups[-1].errors.append(f"functional group rejected ({_el(seg, 1)})")
    return groups


def read_277ca(text: str) -> tuple[str, list[ClaimAnswer]]:
    """The 837 interchange a 277CA answers (2200B TRN02: our ISA13) and each claim's
    verdict (2200D TRN02: its CLM01; STC)."""
    d, segs = segments(text)
    batch, level = "", ""
    claims: list[ClaimAnswer] = []
    for seg in segs:
        tag = seg[0]
        if tag == "HL":
            level = _el(seg, 3)
        elif tag == "TRN" and _el(seg, 1) == "2":
            if level == "21":
                batch = _el(seg, 2)
            elif level == "PT":
                claims.append(ClaimAnswer(_el(seg, 2), True))
        elif tag == "STC" and level == "PT" and claims:
            status = _el(seg, 1)
            composites = [status, *(seg[10:13] if len(seg) > 10 else [])]
            for stc in (c for c in composites if c):
                parts = stc.split(d.component)
                category = parts[0]
                if category in REJECTED_277:
                    words = f"{REJECTED_277[category]} (status code {_at(parts, 1)}"
                    words += f", entity {_at(parts, 2)})" if _at(parts, 2) else ")"
                    claims[-1].accepted = False
                    claims[-1].errors.append((stc, words))
    return batch, claims


def claims_by_set(x12_837: str) -> dict[str, list[str]]:
    """The CLM01s of each transaction set (ST02) of one of our 837 interchanges."""
    _, segs = segments(x12_837)
    out: dict[str, list[str]] = {}
    current = ""
    for seg in segs:
        if seg[0] == "ST":
            current = _el(seg, 2)
            out[current] = []
        elif seg[0] == "CLM" and current:
            out[current].append(_el(seg, 1))
    return out


def _el(seg: list[str], i: int) -> str:
    return seg[i] if len(seg) > i else ""


def _at(parts: list[str], i: int) -> str:
    return parts[i] if len(parts) > i else ""
