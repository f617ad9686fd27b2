"""Event contracts shared by every service: models, topics and the wire codec."""

from schemas.codec import DecodeError, Encoded, Message, Meta, decode, decode_as, encode, new_meta
from schemas.events import Event
from schemas.registry import ALL_EVENTS, BY_TOPIC, BY_TYPE
from schemas.topics import ALL_TOPIC_NAMES, TOPICS, Topic, dlq_name

__all__ = [
    "ALL_EVENTS",
    "ALL_TOPIC_NAMES",
    "BY_TOPIC",
    "BY_TYPE",
    "TOPICS",
    "DecodeError",
    "Encoded",
    "Event",
    "Message",
    "Meta",
    "Topic",
    "decode",
    "decode_as",
    "dlq_name",
    "encode",
    "new_meta",
]
