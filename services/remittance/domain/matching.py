"""Which of our claims a CLP pays: by CLP01, then CLP07, then the patient, date and charge
the submitted 837P named. Pure (the 837 reading keeps a small cache of interchanges)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Mapping
from typing import NamedTuple

from runtime.x12 import X12Error, d8, segments
from services.remittance.x12_835.model import RemitClaim

#: (patient key, service date, charge in cents): what look-alike matching compares
PatientDateCharge = tuple[str, dt.date, int]


def patient_key(last: str | None, first: str | None) -> str | None:
    """A hash of the normalised patient name (last name, first initial), never the name."""
    norm_last = "".join(ch for ch in (last or "").upper() if ch.isalnum())
    if not norm_last:
        return None
    initial = next((ch for ch in (first or "").upper() if ch.isalnum()), "")
    return hashlib.sha256(f"{norm_last}|{initial}".encode()).hexdigest()[:32]


def claim_date(clp: RemitClaim) -> dt.date | None:
    """The claim's service date: DTM*232, else the earliest line date."""
    if clp.statement_from is not None:
        return clp.statement_from
    dates = [ln.service_date for ln in clp.lines if ln.service_date is not None]
    return min(dates) if dates else None


class Submitted(NamedTuple):
    """What matching needs from one CLM of a submitted 837P."""

    patient_key: str | None
    service_date: dt.date | None


def read_837(text: str, patient_control_number: str) -> Submitted:
    """Patient name (2010CA NM1*QC, else 2010BA NM1*IL) and first DTP*472 of one CLM.

    Raises X12Error when the text is not X12 or holds no CLM with that CLM01.
    """
    found = _claims_of_837(text).get(patient_control_number)
    if found is None:
        raise X12Error(f"no CLM with CLM01 {patient_control_number!r}", segment=None)
    return found


@functools.lru_cache(maxsize=32)
def _claims_of_837(text: str) -> dict[str, Submitted]:
    """Every CLM of an interchange, read in one pass. Each claim of an interchange
    arrives as its own claim.submitted carrying the whole interchange: they share this."""
    _d, segs = segments(text)
    out: dict[str, Submitted] = {}
    name: tuple[str, str] | None = None
    current: str | None = None  # the CLM01 whose DTP*472 lines are being read
    date: dt.date | None = None

    def close() -> None:
        if current is not None and current not in out:
            out[current] = Submitted(patient_key(*name) if name else None, date)

    for seg in segs:
        sid = seg[0]
        if current is not None:
            if sid == "DTP" and len(seg) > 3 and seg[1] == "472":
                try:
                    day = d8(seg[3][:8])
                except ValueError:
                    continue
                date = day if date is None else min(date, day)
                continue
            if sid not in ("CLM", "HL", "SE"):
                continue
            close()
            current, date = None, None
        if sid == "HL" and len(seg) > 3 and seg[3] == "22":
            name = None
        elif sid == "NM1" and len(seg) > 3 and seg[1] in ("IL", "QC"):
            name = (seg[3], seg[4] if len(seg) > 4 else "")
        elif sid == "CLM" and len(seg) > 1:
            current, date = seg[1], None
    close()
    return out


class Match(NamedTuple):
    claim_id: str | None
    matched_by: str | None  # patient_control_number | payer_claim_number | patient_date_amount
    reason: str | None  # why it did not match


WAITING_FOR_CLAIM = (
    "unknown patient control number; waiting for its claim: patient, date and amount may"
    " match it once every claim submitted before this 835 is indexed and it has waited"
    " 10 minutes"
)

#: A CLP whose CLP01 names no claim is matched by patient, date and charge only after it
#: has waited this long (and every claim.submitted published before its 835 is applied):
#: the clearinghouse reads an 837 from the mailbox, so its payer can answer before claims
#: has published that claim's claim.submitted (claims lagging in a burst, or down), and a
#: look-alike (another visit of the patient that day for the same charge) would take the
#: payment. Its own claim, once published, matches it by CLP01 at once (on_submitted).
LOOK_ALIKE_AFTER_S = 600.0


def match(
    clp: RemitClaim,
    by_pcn: Mapping[str, str],
    by_payer_number: Mapping[str, str],
    by_patient: Mapping[PatientDateCharge, frozenset[str]],
    *,
    fallback: bool = True,
) -> Match:
    """Our claim for a CLP: by CLP01, then CLP07, then patient, date and charge.

    ``fallback``: whether patient, date and charge may decide. Not while the CLP01 may
    still be a claim of ours that is not indexed yet (a claim.submitted published before
    the 835 and not yet applied): two visits of one patient on one day for the same
    charge look alike, and the other one would take this payment."""
    claim_id = by_pcn.get(clp.patient_control_number)
    if claim_id is not None:
        return Match(claim_id, "patient_control_number", None)
    if clp.payer_claim_number:
        claim_id = by_payer_number.get(clp.payer_claim_number)
        if claim_id is not None:
            return Match(claim_id, "payer_claim_number", None)
    if not fallback:
        return Match(None, None, WAITING_FOR_CLAIM)
    key = patient_key(clp.patient_last_name, clp.patient_first_name)
    day = claim_date(clp)
    if key is None or day is None:
        return Match(None, None, "unknown patient control number; no patient name or date")
    found = by_patient.get((key, day, abs(clp.charge.cents)), frozenset())
    if len(found) == 1:
        return Match(next(iter(found)), "patient_date_amount", None)
    if len(found) > 1:
        return Match(None, None, f"{len(found)} claims match the patient, date and amount")
    return Match(
        None,
        None,
        "no claim matches the patient control number, payer claim number,"
        " or patient, date and amount",
    )
