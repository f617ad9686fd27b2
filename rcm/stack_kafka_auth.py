"""Kafka with authentication and ACLs on the local stack (opt in: `rcm stack up
--kafka-auth` or RCM_KAFKA_AUTH=true; off by default, so the dev and test stack stays
as fast as it was).

The broker's client listener takes SASL/SCRAM-SHA-512 only; KRaft's StandardAuthorizer
allows nothing without an ACL. The users (``admin``, a super user, and ``rcm-<service>``
per service) are written into the cluster's metadata when its storage is formatted
(``--add-scram``), with generated passwords kept in ``<stack_dir>/kafka-users.json``
(mode 0600). Each service's ACLs come from schemas/acls.py, created through the Admin
API (CreateAcls), the same ACLs deploy/k8s's KafkaUsers hold.

The controller listener stays PLAINTEXT on loopback, its (anonymous) principal a super
user: the broker reaches the controller there. Nothing else should connect to it.
"""

from __future__ import annotations

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
MECHANISM = "SCRAM-SHA-512"
LISTENER = "SASL_PLAINTEXT"


def users_file(s: Settings) -> Path:
    return s.stack_dir / "kafka-users.json"


def passwords(s: Settings) -> dict[str, str]:
    names = [ADMIN, *(principal(n) for n in sorted(PRODUCING_SERVICES))]
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
    user = principal(service)
    pw = passwords(s) if s.kafka_auth else {}
    if user not in pw:
        return {}
    return {
        "RCM_KAFKA_SECURITY_PROTOCOL": LISTENER,
        "RCM_KAFKA_SASL_MECHANISM": MECHANISM,
        "RCM_KAFKA_SASL_USERNAME": user,
        "RCM_KAFKA_SASL_PASSWORD": pw[user],
    }


# --- CreateAcls (v3: Kafka 4 accepts no older version; aiokafka ships v0 and v1) -----

_RESOURCE = {"topic": 2, "group": 3, "cluster": 4, "transactional_id": 5}
_PATTERN = {"literal": 3, "prefix": 4}
_OPERATION = {"Read": 3, "Write": 4, "Create": 5, "Describe": 8, "IdempotentWrite": 12}
_ALLOW = 3


def _create_acls_request(creations: list[tuple[Any, ...]]) -> Any:
    from aiokafka.protocol.api import Request, RequestStruct, Response
    from aiokafka.protocol.types import (
        CompactArray,
        CompactString,
        Int8,
        Int16,
        Int32,
        Schema,
        TaggedFields,
    )

    class CreateAclsResponseV3(Response):  # type: ignore[misc]
        API_KEY = 30
        API_VERSION = 3
        SCHEMA = Schema(
            ("throttle_time_ms", Int32),
            (
                "results",
                CompactArray(
                    ("error_code", Int16),
                    ("error_message", CompactString("utf-8")),
                    ("tags", TaggedFields),
                ),
            ),
            ("tags", TaggedFields),
        )

    class CreateAclsRequestV3(RequestStruct):  # type: ignore[misc]
        FLEXIBLE_VERSION = True
        API_KEY = 30
        API_VERSION = 3
        RESPONSE_TYPE = CreateAclsResponseV3
        SCHEMA = Schema(
            (
                "creations",
                CompactArray(
                    ("resource_type", Int8),
                    ("resource_name", CompactString("utf-8")),
                    ("resource_pattern_type", Int8),
                    ("principal", CompactString("utf-8")),
                    ("host", CompactString("utf-8")),
                    ("operation", Int8),
                    ("permission_type", Int8),
                    ("tags", TaggedFields),
                ),
            ),
            ("tags", TaggedFields),
        )

    class CreateAcls(Request[CreateAclsRequestV3]):  # type: ignore[misc]
        API_KEY: ClassVar[int] = 30

        def build(self, request_struct_class: type[CreateAclsRequestV3]) -> CreateAclsRequestV3:
            return request_struct_class(creations, {})

    return CreateAcls()


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
    finally:
        await client.close()
    failed = [r for r in response.results if r[0] != 0]
    if failed:
        raise StackError(f"Kafka refused {len(failed)} ACLs: {failed[0][1]}")
    return len(creations)


def service_consumes() -> dict[str, tuple[str, ...]]:
    """What each runtime service consumes, from its handlers (as deploy/k8s reads it)."""
    import importlib

    out = {}
    for name in sorted(PRODUCING_SERVICES - {"gateway"}):
        out[name] = tuple(importlib.import_module(f"services.{name}.app").build().handlers)
    return out


async def grant_all(s: Settings) -> int:
    from schemas.acls import service_acls

    consumes = {**service_consumes(), "gateway": ()}
    return await create_acls(
        admin(s), {principal(n): service_acls(n, topics) for n, topics in consumes.items()}
    )
