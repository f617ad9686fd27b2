"""Writes schemas/jsonschema/*.json and schemas/asyncapi.json from the models.

Run ``python -m schemas.generate``; ``python -m schemas.generate --check`` exits
non-zero when the committed files have drifted from the models.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from schemas.registry import ALL_EVENTS
from schemas.topics import TOPICS

HERE = Path(__file__).parent
CONTRACT_VERSION = "1.2.0"
"""The contracts' version: the major is every event type's ``.vN``; a minor adds optional
fields only (1.1.0: prior-authorization and referral numbers on the encounter, its lines and
the coded claim; 1.2.0: ``shared`` on remit.received and x12.file-received, a file from a
mailbox several tenants share; ``resend`` on x12.interchange-ready), which every reader of the same major accepts."""
JSON_DIR = HERE / "jsonschema"
ASYNCAPI = HERE / "asyncapi.json"

HEADERS_SCHEMA = {
    "type": "object",
    "description": "CloudEvents binary-mode attributes and tracing, as Kafka headers",
    "required": [
        "ce_id",
        "ce_type",
        "ce_source",
        "ce_time",
        "ce_specversion",
        "ce_tenantid",
        "ce_correlationid",
    ],
    "properties": {
        "ce_id": {"type": "string", "description": "Unique event id; consumers dedupe on it"},
        "ce_type": {"type": "string", "description": "Event type with major version"},
        "ce_source": {"type": "string", "description": "Producing service"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_specversion": {"const": "1.0"},
        "content-type": {"const": "application/json"},
        "traceparent": {"type": "string", "description": "W3C trace context"},
        "ce_tenantid": {"type": "string", "description": "Practice or billing client"},
        "ce_correlationid": {"type": "string", "description": "The claim (or encounter)"},
        "ce_causationid": {"type": "string", "description": "ce_id of the causing event"},
    },
}


def rendered() -> dict[Path, str]:
    files: dict[Path, str] = {}
    for event in ALL_EVENTS:
        schema = event.model_json_schema()
        schema["$id"] = f"urn:rcm:{event.TYPE}"
        schema["x-topic"] = event.TOPIC
        schema["x-key"] = event.KEY_FIELD
        files[JSON_DIR / f"{event.TYPE}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    by_topic = {e.TOPIC: e for e in ALL_EVENTS}
    doc = {
        "asyncapi": "3.0.0",
        "info": {
            "title": "RCM Pipeline events",
            "version": CONTRACT_VERSION,
            "description": "Topics between the revenue-cycle services. Bodies are JSON; "
            "attributes travel as CloudEvents binary-mode Kafka headers. "
            "Every topic has a TOPIC.dlq twin with the original bytes and the error.",
        },
        "channels": {
            t.name: {
                "address": t.name,
                "description": t.doc,
                "messages": {
                    by_topic[t.name].TYPE: {
                        "name": by_topic[t.name].TYPE,
                        "contentType": "application/json",
                        "headers": HEADERS_SCHEMA,
                        "payload": {"$ref": f"jsonschema/{by_topic[t.name].TYPE}.json"},
                        "bindings": {"kafka": {"key": {"type": "string", "description": t.key}}},
                    }
                },
                "bindings": {"kafka": {"partitions": t.partitions}},
            }
            for t in TOPICS
        },
    }
    files[ASYNCAPI] = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    return files


def main(argv: list[str]) -> int:
    files = rendered()
    if "--check" in argv:
        stale = [str(p) for p, text in files.items() if not p.exists() or p.read_text() != text]
        if stale:
            print("schemas drifted; run `python -m schemas.generate`: " + ", ".join(stale))
            return 1
        return 0
    JSON_DIR.mkdir(exist_ok=True)
    for path, text in files.items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
