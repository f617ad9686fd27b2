"""The real-time call: the 270 to the clearinghouse's CAQH CORE endpoint, the 271 back.

Synchronous HTTPS, as CORE's real-time rule has it (the answer comes on the same
connection within 20 s; the aim here is under 50 ms at p99), instead of a Kafka
request/reply, which would add two produce/consume hops and a reply topic to every
check. The envelope, the pooled client, the retry policy, the per-payer cap and the
circuit breaker are :mod:`runtime.core_client`'s; this module turns its outcomes into
the verifier's two: :class:`PayerUnavailable` (ask again after the backoff: a timeout,
a busy or unreachable endpoint, an open circuit) and :class:`InquiryRejected` (no
retry helps: our credentials, our SenderID, a malformed envelope, TLS; the claim is
held naming it).

A :class:`Transport` is any ``async (text, payer) -> text`` callable.
"""

from __future__ import annotations

from typing import Protocol

from runtime.core_client import CoreClient, CoreRejected, CoreUnavailable

PAYLOAD_TYPE = "X12_270_Request_005010X279A1"


class PayerUnavailable(Exception):
    """No answer this time; worth asking again."""


class InquiryRejected(Exception):
    """The clearinghouse refused the 270 itself (its text names the problem)."""


class Transport(Protocol):
    async def __call__(self, text: str, *, payer: str) -> str: ...


class CoreTransport:
    """The 270 in a CORE envelope over the process's one pooled client."""

    def __init__(self, client: CoreClient) -> None:
        self.client = client

    async def __call__(self, text: str, *, payer: str) -> str:
        try:
            reply = await self.client.exchange(PAYLOAD_TYPE, text, payer=payer)
        except CoreUnavailable as exc:
            raise PayerUnavailable(str(exc)) from None
        except CoreRejected as exc:
            raise InquiryRejected(str(exc)) from None
        return reply.payload

    async def close(self) -> None:
        await self.client.close()
