"""The CAQH CORE connectivity envelope for real-time X12 (270/271, 276/277): pure, no I/O.

The Connectivity Rule (vC2.2.0) carries an X12 payload over HTTPS in one of two forms,
with the same fields in each:

- HTTP MIME multipart (``multipart/form-data``): one form field each, plus ``UserName``
  and ``Password`` when the sender authenticates with a password;
- SOAP 1.2 (``application/soap+xml``): ``COREEnvelopeRealTimeRequest`` (answered by
  ``COREEnvelopeRealTimeResponse``) in the body, the password as a WS-Security
  ``UsernameToken`` (``PasswordText``) in the header.

Request fields: PayloadType, ProcessingMode (``RealTime``), PayloadID (unique per
request), TimeStamp (``YYYY-MM-DDTHH:MM:SSZ``), SenderID, ReceiverID, CORERuleVersion
(``2.2.0``), Checksum (SHA-1 of the payload, hex) and Payload. The response repeats
them and adds ErrorCode (``Success`` or what was wrong) and ErrorMessage.

:func:`check` is the receiver's envelope validation (the error code a request earns),
used by the simulator; :func:`classify` is the sender's reading of an ErrorCode (what a
caller should do about it). XML is read with lxml with entity resolution and network
access off.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from lxml import etree

RULE_VERSION = "2.2.0"
REAL_TIME = "RealTime"
SUCCESS = "Success"

SOAP_NS = "http://www.w3.org/2003/05/soap-envelope"
CORE_NS = "http://www.caqh.org/SOAP/WSDL/CORERule2.2.0.xsd"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
UT_TEXT_TYPE = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
    "#PasswordText"
)
SOAP_CONTENT_TYPE = 'application/soap+xml; charset=UTF-8; action="RealTimeTransaction"'

#: Payload types of the real-time transactions, request -> response.
RESPONSE_TYPE: dict[str, str] = {
    "X12_270_Request_005010X279A1": "X12_271_Response_005010X279A1",
    "X12_276_Request_005010X212": "X12_277_Response_005010X212",
}
ERROR_RESPONSE_TYPE = "X12_999_Response_005010X231A1"

#: The envelope's fields in the rule's order (the request's; a response adds the two
#: error fields).
FIELDS = (
    "PayloadType",
    "ProcessingMode",
    "PayloadID",
    "TimeStamp",
    "SenderID",
    "ReceiverID",
    "CORERuleVersion",
    "Checksum",
    "Payload",
)
RESPONSE_FIELDS = (*FIELDS[:8], "Payload", "ErrorCode", "ErrorMessage")

_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_IDENT = re.compile(r"^[\x21-\x7e]{1,50}$")  # printable, no spaces
_PAYLOAD_ID = re.compile(r"^[\x21-\x7e]{1,50}$")
_CHECKSUM = re.compile(r"^[0-9a-fA-F]{40}$")
MAX_PAYLOAD = 1 << 20  # a real-time 270/276 is one member or claim: a few KB


class EnvelopeError(ValueError):
    """The bytes are no CORE envelope at all (not the multipart or SOAP shape)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    payload_type: str
    payload_id: str
    timestamp: str
    sender_id: str
    receiver_id: str
    payload: str
    checksum: str = ""
    processing_mode: str = REAL_TIME
    rule_version: str = RULE_VERSION
    error_code: str = ""
    error_message: str = ""

    def fields(self, *, response: bool = False) -> dict[str, str]:
        """The envelope as its wire field names (a response with ErrorCode/ErrorMessage)."""
        out = {
            "PayloadType": self.payload_type,
            "ProcessingMode": self.processing_mode,
            "PayloadID": self.payload_id,
            "TimeStamp": self.timestamp,
            "SenderID": self.sender_id,
            "ReceiverID": self.receiver_id,
            "CORERuleVersion": self.rule_version,
            "Checksum": self.checksum,
            "Payload": self.payload,
        }
        if response:
            out["ErrorCode"] = self.error_code
            out["ErrorMessage"] = self.error_message
        return out

    @classmethod
    def from_fields(cls, f: dict[str, str]) -> Envelope:
        return cls(
            payload_type=f.get("PayloadType", ""),
            payload_id=f.get("PayloadID", ""),
            timestamp=f.get("TimeStamp", ""),
            sender_id=f.get("SenderID", ""),
            receiver_id=f.get("ReceiverID", ""),
            payload=f.get("Payload", ""),
            checksum=f.get("Checksum", ""),
            processing_mode=f.get("ProcessingMode", ""),
            rule_version=f.get("CORERuleVersion", ""),
            error_code=f.get("ErrorCode", ""),
            error_message=f.get("ErrorMessage", ""),
        )


def checksum(payload: str) -> str:
    """The rule's Checksum: SHA-1 of the payload's bytes, hex."""
    return hashlib.sha1(payload.encode("utf-8"), usedforsecurity=False).hexdigest()


def timestamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def request(
    payload_type: str,
    payload: str,
    *,
    sender_id: str,
    receiver_id: str,
    at: dt.datetime,
    payload_id: str | None = None,
) -> Envelope:
    """A real-time request with a fresh PayloadID (a UUID) and the payload's checksum."""
    return Envelope(
        payload_type=payload_type,
        payload_id=payload_id or str(uuid.uuid4()),
        timestamp=timestamp(at),
        sender_id=sender_id,
        receiver_id=receiver_id,
        payload=payload,
        checksum=checksum(payload),
    )


def response(req: Envelope, *, payload: str, at: dt.datetime, receiver_id: str) -> Envelope:
    """The successful answer to ``req``: same PayloadID, sender and receiver swapped."""
    return Envelope(
        payload_type=RESPONSE_TYPE.get(req.payload_type, ERROR_RESPONSE_TYPE),
        payload_id=req.payload_id,
        timestamp=timestamp(at),
        sender_id=receiver_id,
        receiver_id=req.sender_id,
        payload=payload,
        checksum=checksum(payload),
        error_code=SUCCESS,
    )


def error(req: Envelope, code: str, message: str, *, at: dt.datetime, receiver_id: str) -> Envelope:
    """An error answer: no payload, the ErrorCode and a message saying what was wrong."""
    return replace(
        response(req, payload="", at=at, receiver_id=receiver_id),
        checksum="",
        error_code=code,
        error_message=message,
    )


# --- the receiver's check -----------------------------------------------------------


def check(env: Envelope, *, payload_types: frozenset[str]) -> tuple[str, str] | None:
    """The ErrorCode and message the rule gives this request, or None when it is whole.
    Missing fields first (``<Field>Required``), then bad values (``<Field>Illegal``),
    the rule version (``VersionMismatch``) and the checksum (``ChecksumMismatched``)."""
    f = env.fields()
    for name in FIELDS:
        if not f[name].strip():
            return f"{name}Required", f"{name} is required"
    if env.payload_type not in payload_types:
        return "PayloadTypeIllegal", f"PayloadType {env.payload_type[:60]!r} is not accepted here"
    if env.processing_mode != REAL_TIME:
        return "ProcessingModeIllegal", "ProcessingMode must be RealTime on this endpoint"
    if not _PAYLOAD_ID.match(env.payload_id):
        return "PayloadIDIllegal", "PayloadID must be 1-50 printable characters"
    if not _TIMESTAMP.match(env.timestamp):
        return "TimeStampIllegal", "TimeStamp must be an XML dateTime (YYYY-MM-DDTHH:MM:SSZ)"
    for name, value in (("SenderID", env.sender_id), ("ReceiverID", env.receiver_id)):
        if not _IDENT.match(value):
            return f"{name}Illegal", f"{name} must be 1-50 printable characters"
    if env.rule_version != RULE_VERSION:
        return "VersionMismatch", f"CORERuleVersion {env.rule_version[:20]!r} is not supported"
    if not _CHECKSUM.match(env.checksum):
        return "ChecksumIllegal", "Checksum must be a SHA-1 hex digest"
    if env.checksum.lower() != checksum(env.payload):
        return "ChecksumMismatched", "Checksum does not match the payload"
    return None


# --- the sender's reading of an ErrorCode --------------------------------------------


class Outcome(StrEnum):
    OK = "ok"
    #: The receiver could not take it now (busy, unavailable): ask again later.
    RETRY = "retry"
    #: Our credentials or sender id are refused: no retry helps until someone fixes them.
    UNAUTHORIZED = "unauthorized"
    #: Our envelope is wrong (a Required/Illegal field, version, checksum): a bug or a
    #: misconfiguration, no retry.
    REJECTED = "rejected"


_RETRY_CODES = frozenset({"Busy", "ServerBusy", "ReceiverUnavailable", "Receiver Unavailable"})
_AUTH_CODES = frozenset({"unauthorized", "sendernotauthorized", "sender not authorized"})


def classify(code: str) -> Outcome:
    """What the sender does about an ErrorCode."""
    if code == SUCCESS:
        return Outcome.OK
    if code in _RETRY_CODES:
        return Outcome.RETRY
    if code.lower() in _AUTH_CODES:
        return Outcome.UNAUTHORIZED
    return Outcome.REJECTED


# --- MIME multipart -----------------------------------------------------------------


def multipart_parts(
    env: Envelope, *, username: str | None, password: str | None, response: bool = False
) -> list[tuple[str, str]]:
    """The form fields in order (UserName/Password after ReceiverID, as the rule lists)."""
    out = []
    for name, value in env.fields(response=response).items():
        out.append((name, value))
        if name == "ReceiverID" and username is not None and password is not None:
            out += [("UserName", username), ("Password", password)]
    return out


def encode_multipart(parts: list[tuple[str, str]]) -> tuple[bytes, str]:
    """``multipart/form-data`` body and its Content-Type."""
    boundary = f"core-{uuid.uuid4().hex}"
    chunks: list[bytes] = []
    for name, value in parts:
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode("utf-8")
            + b"\r\n"
        )
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


_BOUNDARY = re.compile(r'boundary="?([^";]{1,200})"?', re.IGNORECASE)
_NAME = re.compile(rb'name="([^"]{1,100})"', re.IGNORECASE)


def decode_multipart(body: bytes, content_type: str) -> dict[str, str]:
    """The form fields of a ``multipart/form-data`` body (the first of a repeated name).
    A plain split on the boundary (RFC 7578): the standard library's MIME parser took
    3.6 ms an envelope, this some microseconds."""
    if len(body) > MAX_PAYLOAD * 2:
        raise EnvelopeError("the envelope is too large for a real-time request")
    found = _BOUNDARY.search(content_type)
    if not content_type.lower().startswith("multipart/") or found is None:
        raise EnvelopeError("not a multipart/form-data body")
    out: dict[str, str] = {}
    for part in body.split(b"--" + found.group(1).encode())[1:]:
        if part.startswith(b"--"):
            break  # the closing delimiter
        head, sep, value = part.partition(b"\r\n\r\n")
        name = _NAME.search(head)
        if not sep or name is None:
            continue
        key = name.group(1).decode("ascii", "replace")
        if key not in out:
            out[key] = value.removesuffix(b"\r\n").decode("utf-8", "replace")
    if not out:
        raise EnvelopeError("the multipart body has no form fields")
    return out


# --- SOAP 1.2 with WS-Security ------------------------------------------------------


def encode_soap(
    env: Envelope, *, username: str | None, password: str | None, response: bool = False
) -> bytes:
    """A SOAP 1.2 envelope holding ``COREEnvelopeRealTimeRequest`` (or ``...Response``),
    with a WS-Security UsernameToken when a username and password are given."""
    soap = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"soapenv": SOAP_NS, "cor": CORE_NS})
    header = etree.SubElement(soap, f"{{{SOAP_NS}}}Header")
    if username is not None and password is not None:
        sec = etree.SubElement(header, f"{{{WSSE_NS}}}Security", nsmap={"wsse": WSSE_NS})
        sec.set(f"{{{SOAP_NS}}}mustUnderstand", "true")
        token = etree.SubElement(sec, f"{{{WSSE_NS}}}UsernameToken")
        etree.SubElement(token, f"{{{WSSE_NS}}}Username").text = username
        pw = etree.SubElement(token, f"{{{WSSE_NS}}}Password")
        pw.set("Type", UT_TEXT_TYPE)
        pw.text = password
    body = etree.SubElement(soap, f"{{{SOAP_NS}}}Body")
    kind = "COREEnvelopeRealTimeResponse" if response else "COREEnvelopeRealTimeRequest"
    core = etree.SubElement(body, f"{{{CORE_NS}}}{kind}")
    for name, value in env.fields(response=response).items():
        etree.SubElement(core, name).text = value
    out: bytes = etree.tostring(soap, xml_declaration=True, encoding="UTF-8")
    return out


_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True
)


def decode_soap(body: bytes) -> tuple[dict[str, str], str | None, str | None]:
    """The CORE fields of a SOAP 1.2 request or response, and the UsernameToken's
    username and password (None when there is none)."""
    if len(body) > MAX_PAYLOAD * 2:
        raise EnvelopeError("the envelope is too large for a real-time request")
    try:
        root = etree.fromstring(body, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise EnvelopeError(f"not well-formed XML (line {exc.lineno})") from None
    if root.tag != f"{{{SOAP_NS}}}Envelope":
        raise EnvelopeError("not a SOAP 1.2 envelope")
    core = _first(root, f"{{{SOAP_NS}}}Body/*")
    if core is None or etree.QName(core).localname not in (
        "COREEnvelopeRealTimeRequest",
        "COREEnvelopeRealTimeResponse",
    ):
        fault = _first(root, f".//{{{SOAP_NS}}}Text")
        if fault is not None:
            raise EnvelopeError(f"SOAP fault: {(fault.text or '').strip()[:200]}")
        raise EnvelopeError("the SOAP body holds no COREEnvelopeRealTime element")
    fields = {etree.QName(child).localname: (child.text or "") for child in core}
    token = _first(root, f".//{{{WSSE_NS}}}UsernameToken")
    user = pw = None
    if token is not None:
        u = _first(token, f"{{{WSSE_NS}}}Username")
        p = _first(token, f"{{{WSSE_NS}}}Password")
        user = (u.text or "") if u is not None else None
        pw = (p.text or "") if p is not None else None
    return fields, user, pw


def _first(node: Any, path: str) -> Any:
    found = node.findall(path)
    return found[0] if found else None
