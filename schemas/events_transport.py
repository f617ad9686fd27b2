"""Files that arrive from outside parties (a clearinghouse's SFTP mailbox, an import):
the connector checks the envelope, keeps the raw file and announces it; the room that
owns the meaning reads it (an 835 goes on as remit.received, which remittance posts)."""

from __future__ import annotations

from pydantic import Field

from schemas.events import Event


class X12FileReceived(Event):
    """A whole 999, 277CA or 277 interchange the connector accepted, once per content."""

    TYPE = "rcm.x12.file-received.v1"
    TOPIC = "x12.file-received"
    KEY_FIELD = "sha256"

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="Of the file's bytes")
    kind: str = Field(pattern=r"^(999|277CA|277|835)$")
    interchange_control_number: str = Field(min_length=1, max_length=9, description="ISA13")
    sender_id: str = Field(max_length=15, description="ISA06")
    receiver_id: str = Field(max_length=15, description="ISA08")
    transactions: int = Field(ge=1)
    source: str = Field(description="sftp:ACCOUNT/NAME, import:NAME or upload:NAME")
    x12: str = Field(min_length=50)
    shared: bool = Field(
        default=False,
        description="From a mailbox several tenants share: the tenant is the account's, and"
        " claims routes each answer to the tenant of the interchange it names",
    )


class X12FileUploaded(Event):
    """A file a person uploaded through the gateway; the connector takes it in as it
    takes a mailbox's (its outcome: the connector's receipts, ``GET /v1/x12/files``)."""

    TYPE = "rcm.x12.file-uploaded.v1"
    TOPIC = "x12.file-uploaded"
    KEY_FIELD = "sha256"

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="Of the file's bytes")
    name: str = Field(min_length=1, max_length=128, description="The file's name as uploaded")
    uploaded_by: str = Field(max_length=100, description="API key id")
    x12: str = Field(max_length=2_000_000, description="The file's text (ASCII)")


class X12InterchangeReady(Event):
    """An 837 interchange the claims batcher built, for the connector to upload to the
    tenant's clearinghouse account; its claims wait (CODED) until x12.file-sent."""

    TYPE = "rcm.x12.interchange-ready.v1"
    TOPIC = "x12.interchange-ready"
    KEY_FIELD = "interchange_control_number"

    interchange_control_number: str = Field(pattern=r"^[0-9]{9}$", description="ISA13")
    payer_id: str = Field(max_length=80)
    claims: int = Field(ge=1, description="How many claims the interchange carries")
    x12: str = Field(min_length=50)
    resend: int = Field(
        default=0,
        ge=0,
        description="0: a new interchange; n: its n-th resend after no 999/277CA came (the"
        " same content, uploaded again under the same name; once per interchange)",
    )


class X12FileSent(Event):
    """An 837 interchange is in the clearinghouse's mailbox: uploaded under its temporary
    name and renamed to its final one. Its claims are SUBMITTED from here on."""

    TYPE = "rcm.x12.file-sent.v1"
    TOPIC = "x12.file-sent"
    KEY_FIELD = "interchange_control_number"

    interchange_control_number: str = Field(pattern=r"^[0-9]{1,9}$", description="ISA13")
    account: str = Field(max_length=64)
    name: str = Field(max_length=255, description="The file's final name remotely")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    attempts: int = Field(ge=1, description="Uploads tried, this one included")


class X12FileSendFailed(Event):
    """An 837 interchange could not be put in the clearinghouse's mailbox; it waits and is
    tried again. Announced when the reason is new (the first failure, or another one),
    not on every retry; its claims show it on their timelines."""

    TYPE = "rcm.x12.file-send-failed.v1"
    TOPIC = "x12.file-send-failed"
    KEY_FIELD = "interchange_control_number"

    interchange_control_number: str = Field(pattern=r"^[0-9]{1,9}$", description="ISA13")
    account: str = Field(max_length=64)
    name: str = Field(max_length=255, description="The file's final name remotely")
    reason: str = Field(max_length=500, description="Why the upload failed (no patient data)")
    attempts: int = Field(ge=1, description="Uploads tried, this one included")
    retry_in_s: float = Field(ge=0, description="When the next try is due")
