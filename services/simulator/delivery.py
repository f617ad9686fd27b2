"""The envelope of every interchange the clearinghouse and the payers send back (999,
277CA, 835): the files the simulator writes into the mailbox (services/simulator/mailbox.py)."""

from __future__ import annotations

from runtime.settings import Settings
from runtime.x12 import Envelope


def envelope(s: Settings, icn: int, sender: str, receiver: str) -> Envelope:
    """The envelope of an interchange the simulator sends (999, 277CA, 835)."""
    return Envelope(
        sender_qualifier="ZZ",
        sender_id=sender,
        receiver_qualifier="ZZ",
        receiver_id=receiver,
        functional_id="",
        version="",
        interchange_control_number=icn,
        group_control_number=icn,
        usage=s.x12_usage,
    )
