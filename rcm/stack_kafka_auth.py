"""Kafka with authentication and ACLs on the local stack (opt in: `rcm stack up
--kafka-auth` or RCM_KAFKA_AUTH=true; off by default, so the dev and test stack stays
as fast as it was).

The broker's client listener takes SASL/SCRAM-SHA-512 only; KRaft's StandardAuthorizer
allows nothing without an ACL. The users (``admin``, a super user, ``rcm-<service>``
per service, and reporting's app id) are written into the cluster's metadata when its
storage is formatted (``--add-scram``), with generated passwords kept in ``<stack_dir>/kafka-users.json``
(mode 0600). Each service's ACLs come from schemas/acls.py, created through the Admin
API (CreateAcls), the same ACLs deploy/k8s's KafkaUsers hold (reporting's:
schemas.acls.reporting_acls).

The controller listener stays PLAINTEXT on loopback, its (anonymous) principal a super
user: the broker reaches the controller there. Nothing else should connect to it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import SecretStr

from rcm.stack_base import StackError
from rcm.stack_roles import kept_secrets
from runtime.settings import Settings
from schemas.acls import Acl, principal
from schemas.topics import PRODUCING_SERVICES

ADMIN = "admin"
#: The faust worker: it produces no topic of schemas/topics.py, yet signs in too.
REPORTING = "reporting"
MECHANISM = "SCRAM-SHA-512"
LISTENER = "SASL_PLAINTEXT"


def users_file(s: Settings) -> Path:
    return s.stack_dir / "kafka-users.json"


def kafka_user(service: str) -> str:
    """A service's Kafka user: ``rcm-<service>``; reporting (faust) signs in as its app
    id, the name its ACLs are made for (schemas.acls.reporting_acls)."""
    if service == REPORTING:
        from services.reporting.config import ReportingSettings

        return ReportingSettings().app_id
    return principal(service)


def passwords(s: Settings) -> dict[str, str]:
    names = [ADMIN, *(kafka_user(n) for n in sorted(PRODUCING_SERVICES | {REPORTING}))]
    return kept_secrets(users_file(s), names)


def server_properties(s: Settings, admin_password: str) -> str:
    """Appended to the plain template: Java properties read later lines over earlier."""
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required"
        f' username="{ADMIN}" password="{admin_password}";'
    )
    return (
        "\n# rcm local stack: SASL/SCRAM and ACLs (rcm/stack_kafka_auth.py)\n"
        f"listeners={LISTENER}://127.0.0.1:{s.kafka_port},"
        f"CONTROLLER://127.0.0.1:{s.kafka_controller_port}\n"
        f"advertised.listeners={LISTENER}://127.0.0.1:{s.kafka_port}\n"
        f"listener.security.protocol.map={LISTENER}:{LISTENER},CONTROLLER:PLAINTEXT\n"
        f"inter.broker.listener.name={LISTENER}\n"
        f"sasl.enabled.mechanisms={MECHANISM}\n"
        f"sasl.mechanism.inter.broker.protocol={MECHANISM}\n"
        f"listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config={jaas}\n"
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\n"
        f"super.users=User:{ADMIN};User:ANONYMOUS\n"
        "allow.everyone.if.no.acl.found=false\n"
        "auto.create.topics.enable=false\n"
    )


def format_args(pw: Mapping[str, str]) -> list[str]:
    """StorageTool's arguments that write every user's SCRAM credential."""
    out: list[str] = []
    for user, password in pw.items():
        out += ["--add-scram", f"{MECHANISM}=[name={user},password={password}]"]
    return out


def as_user(s: Settings, user: str, password: str) -> Settings:
    """``s`` with a client that signs in as ``user``."""
    return s.model_copy(
        update={
            "kafka_security_protocol": LISTENER,
            "kafka_sasl_mechanism": MECHANISM,
            "kafka_sasl_username": user,
            "kafka_sasl_password": SecretStr(password),
        }
    )


def admin(s: Settings) -> Settings:
    return as_user(s, ADMIN, passwords(s)[ADMIN])


def service_kafka_env(s: Settings, service: str) -> dict[str, str]:
    """The local fleet's Kafka credentials for one service, when auth is on."""
    user = kafka_user(service)
    pw = passwords(s) if s.kafka_auth else {}
    if user not in pw:
        return {}
    return {
        "RCM_KAFKA_SECURITY_PROTOCOL": LISTENER,
        "RCM_KAFKA_SASL_MECHANISM": MECHANISM,
        "RCM_KAFKA_SASL_USERNAME": user,
        "RCM_KAFKA_SASL_PASSWORD": pw[user],
    }


# --- CreateAcls and DescribeAcls, v3 (Kafka 4 takes no older; aiokafka ships v0-v1) -----

_RESOURCE = {"topic": 2, "group": 3, "cluster": 4, "transactional_id": 5}
_PATTERN = {"literal": 3, "prefix": 4}
_OPERATION = {"Read": 3, "Write": 4, "Create": 5, "Describe": 8, "IdempotentWrite": 12}
_ANY = 1
_ALLOW = 3


def _flexible_request(api_key: int, request: tuple[Any, ...], response: tuple[Any, ...]) -> Any:
    """A one-version (v3) request of ``api_key`` whose body is ``request`` (schema fields,
    without the trailing tags) and whose answer reads as ``response``."""
    from aiokafka.protocol.api import Request, RequestStruct, Response
    from aiokafka.protocol.types import Schema, TaggedFields

    tags = ("tags", TaggedFields)

    class Answer(Response):  # type: ignore[misc]
        API_KEY = api_key
        API_VERSION = 3
        SCHEMA = Schema(*response, tags)

    class Struct(RequestStruct):  # type: ignore[misc]
        FLEXIBLE_VERSION = True
        API_KEY = api_key
        API_VERSION = 3
        RESPONSE_TYPE = Answer
        SCHEMA = Schema(*request, tags)

    class Ask(Request[Struct]):  # type: ignore[misc]
        API_KEY: ClassVar[int] = api_key

        def __init__(self, *values: Any) -> None:
            self.values = values

        def build(self, request_struct_class: type[Struct]) -> Struct:
            return request_struct_class(*self.values, {})

    return Ask


def _binding_fields() -> tuple[Any, ...]:
    from aiokafka.protocol.types import CompactString, Int8

    return (
        ("principal", CompactString("utf-8")),
        ("host", CompactString("utf-8")),
        ("operation", Int8),
        ("permission_type", Int8),
    )


def _create_acls_request(creations: list[tuple[Any, ...]]) -> Any:
    from aiokafka.protocol.types import CompactArray, CompactString, Int8, Int16, Int32
    from aiokafka.protocol.types import TaggedFields as Tags

    resource = (
        ("resource_type", Int8),
        ("resource_name", CompactString("utf-8")),
        ("resource_pattern_type", Int8),
    )
    ask = _flexible_request(
        30,
        (("creations", CompactArray(*resource, *_binding_fields(), ("tags", Tags))),),
        (
            ("throttle_time_ms", Int32),
            (
                "results",
                CompactArray(
                    ("error_code", Int16),
                    ("error_message", CompactString("utf-8")),
                    ("tags", Tags),
                ),
            ),
        ),
    )
    return ask(creations)


def _describe_all_acls_request() -> Any:
    from aiokafka.protocol.types import CompactArray, CompactString, Int8, Int16, Int32
    from aiokafka.protocol.types import TaggedFields as Tags

    text = CompactString("utf-8")
    ask = _flexible_request(
        29,
        (
            ("resource_type_filter", Int8),
            ("resource_name_filter", text),
            ("pattern_type_filter", Int8),
            ("principal_filter", text),
            ("host_filter", text),
            ("operation", Int8),
            ("permission_type", Int8),
        ),
        (
            ("throttle_time_ms", Int32),
            ("error_code", Int16),
            ("error_message", text),
            (
                "resources",
                CompactArray(
                    ("resource_type", Int8),
                    ("resource_name", text),
                    ("pattern_type", Int8),
                    ("acls", CompactArray(*_binding_fields(), ("tags", Tags))),
                    ("tags", Tags),
                ),
            ),
        ),
    )
    return ask(_ANY, None, _ANY, None, None, _ANY, _ANY)


def acl_creations(user: str, acls: Iterable[Acl]) -> list[tuple[Any, ...]]:
    return [
        (
            _RESOURCE[a.resource_type],
            a.name,
            _PATTERN[a.pattern],
            f"User:{user}",
            "*",
            _OPERATION[op],
            _ALLOW,
            {},
        )
        for a in acls
        for op in a.operations
    ]


async def create_acls(s: Settings, grants: Mapping[str, Iterable[Acl]]) -> int:
    """Creates the ACLs of each user (idempotent: Kafka keeps one of each); returns how
    many were sent. ``s`` signs in as the admin."""
    from aiokafka.admin import AIOKafkaAdminClient

    from runtime.kafka import client_config

    creations = [c for user, acls in grants.items() for c in acl_creations(user, acls)]
    client = AIOKafkaAdminClient(**client_config(s), request_timeout_ms=20000)
    await client.start()
    try:
        response = await client._send_request(_create_acls_request(creations))
        failed = [r for r in response.results if r[0] != 0]
        if failed:
            raise StackError(f"Kafka refused {len(failed)} ACLs: {failed[0][1]}")
        # The controller has them; the broker applies them a moment later: wait for it.
        wanted = {c[:7] for c in creations}
        deadline = time.monotonic() + 30
        while not wanted <= await _held(client):
            if time.monotonic() > deadline:
                raise StackError("Kafka's broker did not apply the new ACLs in 30 s")
            await asyncio.sleep(0.1)
    finally:
        await client.close()
    return len(wanted)


async def _held(client: Any) -> set[tuple[Any, ...]]:
    """Every ACL binding the broker enforces now, as CreateAcls tuples (without tags)."""
    answer = await client._send_request(_describe_all_acls_request())
    if answer.error_code:
        raise StackError(f"Kafka did not list its ACLs (error {answer.error_code})")
    return {
        (kind, name, pattern, *acl[:4])
        for kind, name, pattern, acls, _ in answer.resources
        for acl in acls
    }


def service_consumes() -> dict[str, tuple[str, ...]]:
    """What each runtime service consumes, from its handlers (as deploy/k8s reads it)."""
    import importlib

    out = {}
    for name in sorted(PRODUCING_SERVICES - {"gateway"}):
        out[name] = tuple(importlib.import_module(f"services.{name}.app").build().handlers)
    return out


async def grant_all(s: Settings) -> int:
    from schemas.acls import reporting_acls, service_acls
    from services.reporting.config import ReportingSettings

    consumes = {**service_consumes(), "gateway": ()}
    grants = {principal(n): service_acls(n, topics) for n, topics in consumes.items()}
    r = ReportingSettings()
    grants[r.app_id] = reporting_acls(r.app_id, r.source_topics)
    return await create_acls(admin(s), grants)
