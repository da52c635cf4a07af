"""A person's export a page at a time (beacon/domain/privacy.py `export_page`), for the privacy function.

Access patterns (DATA_MODEL.md, Erasure): the head is the CLI export's reads (GetItem of the profile, alias,
group and session items: beacon/store/erasure.py `DynamoDBPersonalDataReader`); the events are one Query of the
byProfile index per page, `gsi1pk = <project>#<profile id>`, `Limit` the page's size, resumed from the page's
`LastEvaluatedKey` (the index's and the table's keys, which the signed cursor carries without the partition); a
later page resolves the ids again with the scope's first two reads (GetItem of the alias item, then of the profile's
`aliases`), not its query of the profile's events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from beacon.domain.erasure import ErasureScope
from beacon.store.dynamodb import DynamoDBRepository, deserialize_item, translate_errors
from beacon.store.erasure import DynamoDBPersonalDataReader, ErasureTables
from beacon.store.events import PROFILE_INDEX
from beacon.store.profiles import alias_key, profile_key
from beacon.store.reads import event_from_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoDBExportPages(DynamoDBRepository):
    def __init__(self, tables: ErasureTables, client: DynamoDBClient | None = None) -> None:
        super().__init__(tables.events, client)
        self._entities = tables.entities
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

    def profile_ids(self, project_id: str, profile_id: str) -> frozenset[str]:
        canonical = self._get(alias_key(project_id, profile_id), "profileId").get("profileId") or profile_id
        aliases = self._get(profile_key(project_id, canonical), "aliases").get("aliases", set())
        return frozenset({profile_id, canonical, *aliases})

    def _get(self, key: dict[str, Any], projection: str) -> dict[str, Any]:
        with translate_errors():
            response = self.client.get_item(
                TableName=self._entities, Key=key, ConsistentRead=True, ProjectionExpression=projection
            )
        return deserialize_item(response.get("Item", {}))

    def events_page(
        self, project_id: str, profile_id: str, after: dict[str, Any] | None, limit: int
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        partition = {"S": f"{project_id}#{profile_id}"}
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": PROFILE_INDEX,
            "KeyConditionExpression": "gsi1pk = :pk",
            "ExpressionAttributeValues": {":pk": partition},
            "Limit": limit,
        }
        if after is not None:  # the position without its partition, which the cursor need not carry
            arguments["ExclusiveStartKey"] = {**after, "gsi1pk": partition}
        with translate_errors():
            response = self.client.query(**arguments)
        last = response.get("LastEvaluatedKey")
        position = None if last is None else {name: value for name, value in last.items() if name != "gsi1pk"}
        return [event_from_item(item) for item in response["Items"]], position
