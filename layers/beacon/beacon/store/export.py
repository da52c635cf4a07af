"""A person's export a page at a time (beacon/domain/privacy.py `export_page`), for the privacy function.

Access patterns (DATA_MODEL.md, Erasure): the head is the CLI export's reads (GetItem of the profile, alias,
group and session items: beacon/store/erasure.py `DynamoDBPersonalDataReader`); the events are one Query of the
byProfile index per page, `gsi1pk = <project>#<profile id>`, `Limit` the page's size, resumed from the page's
`LastEvaluatedKey` (the index's and the table's keys, which the signed cursor carries).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from beacon.domain.erasure import ErasureScope
from beacon.store.dynamodb import DynamoDBRepository, translate_errors
from beacon.store.erasure import DynamoDBPersonalDataReader, ErasureTables
from beacon.store.events import PROFILE_INDEX
from beacon.store.reads import event_from_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoDBExportPages(DynamoDBRepository):
    def __init__(self, tables: ErasureTables, client: DynamoDBClient | None = None) -> None:
        super().__init__(tables.events, client)
        self._reader = DynamoDBPersonalDataReader(tables, client)

    def head(self, scope: ErasureScope) -> dict[str, list[dict[str, Any]]]:
        profiles = self._reader.profiles(scope)
        groups = {group for profile in profiles for group in profile.get("groups", [])}
        return {
            "profiles": profiles,
            "aliases": self._reader.aliases(scope),
            "groups": self._reader.groups(scope, groups),
            "sessions": self._reader.sessions(scope),
        }

    def events_page(
        self, project_id: str, profile_id: str, after: dict[str, Any] | None, limit: int
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": PROFILE_INDEX,
            "KeyConditionExpression": "gsi1pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"{project_id}#{profile_id}"}},
            "Limit": limit,
        }
        if after is not None:
            if after.get("gsi1pk") != {"S": f"{project_id}#{profile_id}"}:
                raise ValueError("a position of another partition")  # the cursor is signed: only a bug gets here
            arguments["ExclusiveStartKey"] = after
        with translate_errors():
            response = self.client.query(**arguments)
        return [event_from_item(item) for item in response["Items"]], response.get("LastEvaluatedKey")
