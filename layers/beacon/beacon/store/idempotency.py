"""The idempotency table: one item per key (an event's __id, an Idempotency-Key header, a batch item),
claimed in the same transaction as the event it guards, so a repeat is stored once; and one item per batch
(its fast path's claim, written before its events), compact so that it costs 1 write unit for a typical
batch. Layouts in DATA_MODEL.md."""

from __future__ import annotations

import string
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from beacon.domain.entities import BatchClaim, Event, TrackResult
from beacon.errors import DependencyUnavailableError
from beacon.store.aws import error_code
from beacon.store.dynamodb import DynamoDBRepository, translate_errors

IDEMPOTENCY_WINDOW = timedelta(days=7)


def idempotency_key(project_id: str, key: str) -> dict[str, Any]:
    return {"pk": {"S": f"{project_id}#{key}"}}


def claim_action(table: str, key: str, event: Event) -> dict[str, Any]:
    """A transaction Put that succeeds only for the key's first use within the window."""
    answer = TrackResult(device_id=event.device_id, session_id=event.session_id)
    return answer_claim_action(table, event.project_id, key, answer, event.received_at, event.id)


def answer_claim_action(
    table: str, project_id: str, key: str, answer: TrackResult, now: datetime, event_id: str | None = None
) -> dict[str, Any]:
    """The claim of a key, remembering what the request was answered (for any request type)."""
    item = {
        **idempotency_key(project_id, key),
        "deviceId": {"S": answer.device_id},
        "sessionId": {"S": answer.session_id},
        "createdAt": {"S": now.isoformat()},
        "expiresAt": {"N": str(int((now + IDEMPOTENCY_WINDOW).timestamp()))},
    }
    if event_id is not None:
        item["eventId"] = {"S": event_id}
    return {
        "Put": {
            "TableName": table,
            "Item": item,
            # An expired item may linger until DynamoDB's TTL sweeps it: it no longer counts.
            "ConditionExpression": "attribute_not_exists(pk) OR expiresAt < :now",
            "ExpressionAttributeValues": {":now": {"N": str(int(now.timestamp()))}},
        }
    }


SLOT_DIGITS = string.digits + string.ascii_lowercase  # base 36
UNCLAIMED = "."


def batch_claim_item(project_id: str, key: str, claim: BatchClaim) -> dict[str, Any]:
    """The claim as one compact item: the distinct (device, session) answers once each, then one slot per index
    of the batch (base-36 digits of the answer's position, 1 or 2 of them; "." for an index not claimed).
    A 50-event batch from one device is about 250 bytes; 1000 events from 1000 devices, about 75 KB."""
    answers = list(dict.fromkeys(claim.answers.values()))
    position = {answer: number for number, answer in enumerate(answers)}
    width = 1 if len(answers) <= len(SLOT_DIGITS) else 2
    slots = [UNCLAIMED * width] * (max(claim.answers) + 1 if claim.answers else 0)
    for index, answer in claim.answers.items():
        number = position[answer]
        slots[index] = SLOT_DIGITS[number] if width == 1 else SLOT_DIGITS[number // 36] + SLOT_DIGITS[number % 36]
    return {
        **idempotency_key(project_id, key),
        "receivedAt": {"S": claim.received_at.isoformat()},
        "nonce": {"S": claim.nonce},
        "digest": {"S": claim.digest},
        "devices": {"L": [{"S": answer.device_id} for answer in answers]},
        "sessions": {"L": [{"S": answer.session_id} for answer in answers]},
        "slots": {"S": "".join(slots)},
        "expiresAt": {"N": str(int((claim.received_at + IDEMPOTENCY_WINDOW).timestamp()))},
    }


def item_to_batch_claim(item: dict[str, Any]) -> BatchClaim:
    answers = [
        TrackResult(device_id=device["S"], session_id=session["S"])
        for device, session in zip(item["devices"]["L"], item["sessions"]["L"], strict=True)
    ]
    width = 1 if len(answers) <= len(SLOT_DIGITS) else 2
    slots = item["slots"]["S"]
    claimed = {}
    for index in range(len(slots) // width):
        slot = slots[index * width : (index + 1) * width]
        if not slot.startswith(UNCLAIMED):
            claimed[index] = answers[int(slot, 36)]
    return BatchClaim(
        received_at=datetime.fromisoformat(item["receivedAt"]["S"]),
        nonce=item["nonce"]["S"],
        digest=item["digest"]["S"],
        answers=claimed,
    )


class DynamoDBIdempotencyStore(DynamoDBRepository):
    def previous_answer(self, project_id: str, key: str) -> TrackResult | None:
        """What the first request with this key was answered."""
        with translate_errors():
            item = self.client.get_item(
                TableName=self._table, Key=idempotency_key(project_id, key), ConsistentRead=True
            ).get("Item")
        if item is None:
            return None
        return TrackResult(device_id=item["deviceId"]["S"], session_id=item["sessionId"]["S"])

    def batch_claim(self, project_id: str, key: str, now: datetime) -> BatchClaim | None:
        with translate_errors():
            item = self.client.get_item(
                TableName=self._table, Key=idempotency_key(project_id, key), ConsistentRead=True
            ).get("Item")
        if item is None or "slots" not in item or int(item["expiresAt"]["N"]) < int(now.timestamp()):
            return None  # an expired claim may linger until DynamoDB's TTL sweeps it: it no longer counts
        return item_to_batch_claim(item)

    def claim_batch(self, project_id: str, key: str, claim: BatchClaim) -> BatchClaim:
        """A conditional Put; when another claim holds the key, that claim (returned by the failed condition)."""
        try:
            with translate_errors():
                self.client.put_item(
                    TableName=self._table,
                    Item=batch_claim_item(project_id, key, claim),
                    ConditionExpression="attribute_not_exists(pk) OR expiresAt < :now",
                    ExpressionAttributeValues={":now": {"N": str(int(claim.received_at.timestamp()))}},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            held: dict[str, Any] = dict(exc.response.get("Item") or {})  # type: ignore[call-overload]
            if "slots" in held:
                return item_to_batch_claim(held)
            found = self.batch_claim(project_id, key, claim.received_at)
            if found is None:  # the winner's claim is not readable yet: a retry settles it
                raise DependencyUnavailableError("Batch claim not readable yet; retry") from exc
            return found
        return claim
