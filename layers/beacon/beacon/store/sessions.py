"""The sessions table: one item per (project, device) holding its current session. See DATA_MODEL.md."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from beacon.domain.entities import Event
from beacon.domain.sessions import SESSION_TIMEOUT
from beacon.store.aws import error_code
from beacon.store.dynamodb import DynamoDBRepository, cancellation_codes, translate_errors
from beacon.store.events import event_to_item, isoformat_ms

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Session items outlive their 30-minute window by a day, then DynamoDB's TTL removes them.
SESSION_ITEM_LIFETIME = timedelta(days=1)


def session_key(project_id: str, device_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"{project_id}#{device_id}"}}


class DynamoDBSessionStore(DynamoDBRepository):
    def __init__(
        self, table_name: str, events_table: str, retention_days: int, client: DynamoDBClient | None = None
    ) -> None:
        super().__init__(table_name, client)
        self._events_table = events_table
        self._retention_days = retention_days

    @staticmethod
    def _times(now: datetime) -> dict[str, Any]:
        return {
            ":now": {"S": isoformat_ms(now)},
            ":cutoff": {"S": isoformat_ms(now - SESSION_TIMEOUT)},
            ":expires": {"N": str(int((now + SESSION_ITEM_LIFETIME).timestamp()))},
        }

    def continue_session(self, project_id: str, device_id: str, now: datetime) -> str | None:
        try:
            with translate_errors():
                response = self.client.update_item(
                    TableName=self._table,
                    Key=session_key(project_id, device_id),
                    UpdateExpression="SET lastSeenAt = :now, expiresAt = :expires",
                    ConditionExpression="lastSeenAt >= :cutoff",
                    ExpressionAttributeValues=self._times(now),
                    ReturnValues="ALL_NEW",
                )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None  # no session, or it went quiet more than 30 minutes ago
            raise
        return str(response["Attributes"]["sessionId"]["S"])

    def start_session(
        self, project_id: str, device_id: str, session_id: str, now: datetime, events: list[Event]
    ) -> bool:
        start = {
            "Update": {
                "TableName": self._table,
                "Key": session_key(project_id, device_id),
                "UpdateExpression": (
                    "SET sessionId = :session, startedAt = :now, lastSeenAt = :now, expiresAt = :expires"
                ),
                "ConditionExpression": "attribute_not_exists(pk) OR lastSeenAt < :cutoff",
                "ExpressionAttributeValues": {**self._times(now), ":session": {"S": session_id}},
            }
        }
        puts = [
            {
                "Put": {
                    "TableName": self._events_table,
                    "Item": event_to_item(event, self._retention_days),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for event in events
        ]
        try:
            with translate_errors():
                self.client.transact_write_items(TransactItems=[start, *puts])  # type: ignore[list-item]
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            codes = cancellation_codes(exc)
            if codes and codes[0] == "ConditionalCheckFailed":
                return False  # another request started the session first
            raise
        return True

    def active_session(self, project_id: str, device_id: str, now: datetime) -> str | None:
        with translate_errors():
            item = self.client.get_item(
                TableName=self._table,
                Key=session_key(project_id, device_id),
                ProjectionExpression="sessionId, lastSeenAt",
                ConsistentRead=True,
            ).get("Item")
        if item is None or item["lastSeenAt"]["S"] < isoformat_ms(now - SESSION_TIMEOUT):
            return None
        return str(item["sessionId"]["S"])
