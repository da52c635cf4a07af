"""DynamoDB Streams records, as Lambda's event source mapping delivers them, read into the domain's StreamRecord."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from beacon.domain.lake import StreamRecord

_deserializer = TypeDeserializer()


def _value(value: Any) -> Any:
    if value == {}:
        return {}  # an empty map, as botocore hands it on from GetRecords (an {"M": {}} in Lambda's event)
    return _deserializer.deserialize(value)


def deserialize_image(image: Mapping[str, Any]) -> dict[str, Any]:
    """A stream image (DynamoDB JSON) as plain values: numbers as Decimal, sets as sets."""
    return {name: _value(value) for name, value in image.items()}


def stream_records(event: Mapping[str, Any]) -> list[StreamRecord]:
    """The batch's records in stream order. A record whose image cannot be read keeps item None (skipped)."""
    records = []
    for record in event.get("Records", []):
        change = record.get("dynamodb", {})
        image = change.get("NewImage")
        try:
            item = deserialize_image(image) if isinstance(image, Mapping) else None
        except (TypeError, ValueError, KeyError):
            item = None
        records.append(StreamRecord(str(change.get("SequenceNumber", "")), str(record.get("eventName", "")), item))
    return records


def batch_key(event: Mapping[str, Any]) -> str:
    """The batch's name, the same on every delivery of it: the stream's label and its first sequence number."""
    records = event.get("Records") or [{}]
    first = records[0]
    stream_label = str(first.get("eventSourceARN", "")).rsplit("/", 1)[-1] or "stream"
    return f"{stream_label}-{first.get('dynamodb', {}).get('SequenceNumber', '0')}"
