"""The DynamoDB side of erasure (beacon/domain/erasure.py): the scope resolver, one eraser per table, the receipts.

Access patterns (DATA_MODEL.md, Erasure):
- scope: GetItem of the alias item and of the profile (consistent), Query of the byProfile index per id, keys and
  `deviceId` only;
- entities: DeleteItem of the profile and alias item of each id (ReturnValues ALL_OLD: only items that existed
  count);
- events: the byProfile index per id (keys only), and with `linked_devices`, a Query of each of the project's 8
  shards filtered on `deviceId IN (…) AND attribute_not_exists(profileId)` (reads the project's hot events: the
  cost of the link rule, docs/PRIVACY.md); BatchWriteItem deletes, 25 a request;
- sessions: DeleteItem of `<project>#<device>` per linked device, and of the ended-session record
  `<project>#session#<id>` per session of the profile's events;
- replays: Query of ReplaysTable `pk = <project>#<session>` per session of the scope (keys only), DeleteObjects
  of the chunks' S3 objects (the payloads) first, then BatchWriteItem deletes of the index items;
- rejected events: Query `pk = <project>` (14 days at most), deleting the items whose payload names an id;
- receipts: the entities table, `pk = <project>#erasure#<id>`, saved after every batch (the checkpoints).
- a whole project: Query of the 8 event shards and the rejected partition; Scan with `begins_with(pk, <project>#)`
  of the hash-key tables and of ReplaysTable; ListObjectsV2 + DeleteObjects of `replays/<project>/` in the bucket.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from beacon.domain.erasure import ErasureReceipt, ErasureRequest, ErasureScope, StoreEraser, mentions, payload_mentions
from beacon.store.aws import s3_client
from beacon.store.dynamodb import DynamoDBRepository, deserialize_item, pages, serialize_item, translate_errors
from beacon.store.events import EVENT_SHARDS, PROFILE_INDEX, UNPROCESSED_RETRY_DELAYS, WRITE_GROUP
from beacon.store.profiles import alias_key, profile_key
from beacon.store.projects import DynamoDBProjectSettingsStore
from beacon.store.replays import object_key, replay_pk, translate_s3_errors
from beacon.store.sessions import record_key, session_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MAX_FILTER_DEVICES = 90  # a filter's IN list holds at most 100 operands; larger sets are queried in groups


def erasure_key(project_id: str, erasure_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"{project_id}#erasure#{erasure_id}"}}


class DynamoDBScopeResolver(DynamoDBRepository):
    """Resolves a request to its scope in the entities table (ids) and the events table (linked devices)."""

    def __init__(self, entities_table: str, events_table: str, client: DynamoDBClient | None = None) -> None:
        super().__init__(entities_table, client)
        self._events = events_table

    def _get(self, key: dict[str, Any], projection: str) -> dict[str, Any]:
        with translate_errors():
            response = self.client.get_item(
                TableName=self._table, Key=key, ConsistentRead=True, ProjectionExpression=projection
            )
        return deserialize_item(response.get("Item", {}))

    def resolve(self, request: ErasureRequest) -> ErasureScope:
        project = request.project_id
        canonical = self._get(alias_key(project, request.profile_id), "profileId").get("profileId")
        canonical = canonical or request.profile_id
        aliases = self._get(profile_key(project, canonical), "aliases").get("aliases", set())
        ids = frozenset({request.profile_id, canonical, *aliases})
        devices: set[str] = set()
        sessions: set[str] = set()
        for profile_id in sorted(ids):
            for item in profile_event_keys(self.client, self._events, project, profile_id, "deviceId, sessionId"):
                if item.get("deviceId", {}).get("S"):
                    devices.add(item["deviceId"]["S"])
                if item.get("sessionId", {}).get("S"):
                    sessions.add(item["sessionId"]["S"])
        return ErasureScope(project, ids, frozenset(devices), request.linked_devices, frozenset(sessions))


def profile_event_keys(
    client: Any, table: str, project_id: str, profile_id: str, extra: str = ""
) -> Iterator[dict[str, Any]]:
    """The keys (and `extra` attributes) of every event of the byProfile partition `<project>#<profile>`."""
    projection = "pk, sk" + (f", {extra}" if extra else "")
    arguments: dict[str, Any] = {
        "TableName": table,
        "IndexName": PROFILE_INDEX,
        "KeyConditionExpression": "gsi1pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": f"{project_id}#{profile_id}"}},
        "ProjectionExpression": projection,
    }
    for page in pages(client.query, arguments):
        yield from page["Items"]


def delete_keys(client: Any, table: str, keys: list[dict[str, Any]]) -> int:
    """BatchWriteItem deletes, 25 a request, unprocessed ones sent again; the number of keys deleted."""
    for start in range(0, len(keys), WRITE_GROUP):
        pending: list[Any] = [{"DeleteRequest": {"Key": key}} for key in keys[start : start + WRITE_GROUP]]
        for delay in (*UNPROCESSED_RETRY_DELAYS, None):
            with translate_errors():
                response = client.batch_write_item(RequestItems={table: pending})
            pending = response.get("UnprocessedItems", {}).get(table, [])
            if not pending:
                break
            if delay is None:
                from beacon.errors import DependencyUnavailableError

                raise DependencyUnavailableError("the table kept refusing the erasure's deletes; run it again")
            time.sleep(delay)
    return len(keys)


def _only_keys(item: dict[str, Any]) -> dict[str, Any]:
    return {"pk": item["pk"], "sk": item["sk"]}


class DynamoDBEventEraser(DynamoDBRepository):
    """The events table and its byProfile index: the profile's events, and the linked devices' anonymous ones."""

    name = "events"

    def _anonymous_pages(self, scope: ErasureScope, select_count: bool) -> Iterator[dict[str, Any]]:
        devices = sorted(scope.device_ids)
        if not scope.linked_devices or not devices:
            return
        for start in range(0, len(devices), MAX_FILTER_DEVICES):
            group = devices[start : start + MAX_FILTER_DEVICES]
            values = {f":d{index}": {"S": device} for index, device in enumerate(group)}
            for shard in range(EVENT_SHARDS):
                arguments: dict[str, Any] = {
                    "TableName": self._table,
                    "KeyConditionExpression": "pk = :pk",
                    "FilterExpression": f"deviceId IN ({', '.join(values)}) AND attribute_not_exists(profileId)",
                    "ExpressionAttributeValues": {":pk": {"S": f"{scope.project_id}#{shard}"}, **values},
                }
                if select_count:
                    arguments["Select"] = "COUNT"
                else:
                    arguments["ProjectionExpression"] = "pk, sk"
                yield from pages(self.client.query, arguments)

    def erase(self, scope: ErasureScope) -> Iterator[int]:
        for profile_id in sorted(scope.profile_ids):
            batch: list[dict[str, Any]] = []
            for item in profile_event_keys(self.client, self._table, scope.project_id, profile_id):
                batch.append(_only_keys(item))
                if len(batch) == WRITE_GROUP * 4:
                    yield delete_keys(self.client, self._table, batch)
                    batch = []
            if batch:
                yield delete_keys(self.client, self._table, batch)
        for page in self._anonymous_pages(scope, select_count=False):
            if page["Items"]:
                yield delete_keys(self.client, self._table, [_only_keys(item) for item in page["Items"]])

    def count(self, scope: ErasureScope) -> int:
        total = sum(
            1
            for profile_id in scope.profile_ids
            for _ in profile_event_keys(self.client, self._table, scope.project_id, profile_id)
        )
        return total + sum(int(page["Count"]) for page in self._anonymous_pages(scope, select_count=True))


class _KeyedEraser(DynamoDBRepository):
    """Erasers of items whose keys follow from the scope: one DeleteItem each, counted when it existed."""

    def keys(self, scope: ErasureScope) -> list[dict[str, Any]]:
        raise NotImplementedError

    def erase(self, scope: ErasureScope) -> Iterator[int]:
        for key in self.keys(scope):
            with translate_errors():
                old = self.client.delete_item(TableName=self._table, Key=key, ReturnValues="ALL_OLD")
            yield 1 if old.get("Attributes") else 0

    def count(self, scope: ErasureScope) -> int:
        found = 0
        for key in self.keys(scope):
            with translate_errors():
                item = self.client.get_item(TableName=self._table, Key=key, ProjectionExpression="pk")
            found += 1 if item.get("Item") else 0
        return found


class DynamoDBProfileEraser(_KeyedEraser):
    """The entities table: the profile item and the alias item of every id of the scope (both ways)."""

    name = "profiles"

    def keys(self, scope: ErasureScope) -> list[dict[str, Any]]:
        ids = sorted(scope.profile_ids)
        return [alias_key(scope.project_id, i) for i in ids] + [profile_key(scope.project_id, i) for i in ids]


class DynamoDBSessionEraser(_KeyedEraser):
    """The sessions table: the current session item of each device the profile was seen on."""

    name = "sessions"

    def keys(self, scope: ErasureScope) -> list[dict[str, Any]]:
        return [session_key(scope.project_id, device) for device in sorted(scope.device_ids)]


class DynamoDBSessionRecordEraser(_KeyedEraser):
    """The sessions table: the ended-session record (`<project>#session#<id>`) of each session of the profile's
    events (`scope.session_ids`, saved at the start because the events are erased first); its byProjectStart
    index entry goes with the item."""

    name = "sessionRecords"

    def keys(self, scope: ErasureScope) -> list[dict[str, Any]]:
        return [record_key(scope.project_id, session) for session in sorted(scope.session_ids)]


class S3ReplayChunkEraser(DynamoDBRepository):
    """ReplaysTable and the replay bucket: every chunk of each session of the profile's events. The S3 objects go
    first, then their index items, so a run killed halfway finds the index items left and deletes the rest (an
    object deleted twice is no error). Counted per chunk (index item)."""

    name = "replays"

    def __init__(self, table: str, bucket: str, client: DynamoDBClient | None = None, s3: Any | None = None) -> None:
        super().__init__(table, client)
        self._bucket = bucket
        self._s3 = s3

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = s3_client()
        return self._s3

    def _pages(self, scope: ErasureScope) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        for session in sorted(scope.session_ids):
            arguments: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": replay_pk(scope.project_id, session)}},
                "ProjectionExpression": "pk, sk",
                "ConsistentRead": True,
            }
            for page in pages(self.client.query, arguments):
                if page.get("Items"):
                    yield session, list(page["Items"])

    def erase(self, scope: ErasureScope) -> Iterator[int]:
        for session, items in self._pages(scope):
            for start in range(0, len(items), 1000):  # DeleteObjects takes 1,000 keys a request
                batch = items[start : start + 1000]
                objects = [{"Key": object_key(scope.project_id, session, item["sk"]["S"])} for item in batch]
                with translate_s3_errors():
                    answer = self.s3.delete_objects(Bucket=self._bucket, Delete={"Objects": objects, "Quiet": True})
                if answer.get("Errors"):
                    raise RuntimeError(f"S3 refused to delete {len(answer['Errors'])} replay chunks; run again")
            yield delete_keys(self.client, self._table, [_only_keys(item) for item in items])

    def count(self, scope: ErasureScope) -> int:
        return sum(len(items) for _, items in self._pages(scope))


class DynamoDBRejectedEventEraser(DynamoDBRepository):
    """The rejected-events table: the project's refused events (14 days) whose payload names one of the ids."""

    name = "rejected"

    def _matching(self, scope: ErasureScope) -> Iterator[list[dict[str, Any]]]:
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :project",
            "ExpressionAttributeValues": {":project": {"S": scope.project_id}},
            "ProjectionExpression": "pk, sk, payload",
        }
        for page in pages(self.client.query, arguments):
            yield [
                _only_keys(item) for item in page["Items"] if _names_one_of(item.get("payload", {}), scope.profile_ids)
            ]

    def erase(self, scope: ErasureScope) -> Iterator[int]:
        for keys in self._matching(scope):
            if keys:
                yield delete_keys(self.client, self._table, keys)

    def count(self, scope: ErasureScope) -> int:
        return sum(len(keys) for keys in self._matching(scope))


def _names_one_of(payload: Any, ids: frozenset[str]) -> bool:
    if "S" in payload:
        return payload_mentions(payload["S"], ids)
    return mentions(deserialize_item({"p": payload})["p"], ids) if payload else False


class DynamoDBErasureLog(DynamoDBRepository):
    """Receipts in the entities table; the scope is stored while the erasure runs and removed when it is done."""

    def load(self, project_id: str, erasure_id: str) -> ErasureReceipt | None:
        with translate_errors():
            response = self.client.get_item(
                TableName=self._table, Key=erasure_key(project_id, erasure_id), ConsistentRead=True
            )
        if "Item" not in response:
            return None
        item = deserialize_item(response["Item"])
        scope = item.get("scope")
        return ErasureReceipt(
            id=item["erasureId"],
            project_id=item["projectId"],
            status=item["status"],
            requested_at=datetime.fromisoformat(item["requestedAt"]),
            linked_devices=bool(item["linkedDevices"]),
            suppress=bool(item["suppress"]),
            counts={name: int(count) for name, count in item.get("counts", {}).items()},
            done=list(item.get("done", [])),
            scope=None
            if scope is None
            else ErasureScope(
                project_id,
                frozenset(scope.get("profileIds", [])),
                frozenset(scope.get("deviceIds", [])),
                bool(scope["linkedDevices"]),
                frozenset(scope.get("sessionIds", [])),
            ),
            finished_at=datetime.fromisoformat(item["finishedAt"]) if item.get("finishedAt") else None,
        )

    def save(self, receipt: ErasureReceipt) -> None:
        item: dict[str, Any] = {
            "kind": "erasure",
            "projectId": receipt.project_id,
            "erasureId": receipt.id,
            "status": receipt.status,
            "requestedAt": receipt.requested_at.isoformat(),
            "linkedDevices": receipt.linked_devices,
            "suppress": receipt.suppress,
            "counts": dict(receipt.counts),
            "done": list(receipt.done),
        }
        if receipt.scope is not None:
            scope: dict[str, Any] = {"linkedDevices": receipt.scope.linked_devices}
            # DynamoDB refuses empty sets: an absent attribute is the empty set.
            if receipt.scope.profile_ids:
                scope["profileIds"] = set(receipt.scope.profile_ids)
            if receipt.scope.device_ids:
                scope["deviceIds"] = set(receipt.scope.device_ids)
            if receipt.scope.session_ids:
                scope["sessionIds"] = set(receipt.scope.session_ids)
            item["scope"] = scope
        if receipt.finished_at is not None:
            item["finishedAt"] = receipt.finished_at.isoformat()
        with translate_errors():
            self.client.put_item(
                TableName=self._table, Item={**erasure_key(receipt.project_id, receipt.id), **serialize_item(item)}
            )


class ProjectSettingsSuppressor:
    """Suppression through the project's blocked profile ids (`beacon projects filters --block-profile`)."""

    def __init__(self, settings: DynamoDBProjectSettingsStore) -> None:
        self._settings = settings

    def block_profiles(self, project_id: str, profile_ids: Sequence[str]) -> None:
        self._settings.change_filters(project_id, block_profiles=profile_ids)


@dataclass(frozen=True)
class ErasureTables:
    events: str
    entities: str
    sessions: str
    rejected_events: str
    replays: str = ""  # ReplaysTable and the replay bucket: empty when the stack stores no replays
    replay_bucket: str = ""


def dynamodb_erasers(
    tables: ErasureTables, client: DynamoDBClient | None = None, s3: Any | None = None
) -> list[StoreEraser]:
    """The registry of the DynamoDB stores' erasers, in the order they run. A new store holding personal data adds
    its eraser here (docs/DESIGN.md, Erasure). Profiles run last, so that a run
    killed halfway still finds the profile (and `GET /profile/{id}` shows it) until the rest is gone."""
    replays: list[StoreEraser] = (
        [S3ReplayChunkEraser(tables.replays, tables.replay_bucket, client, s3)]
        if tables.replays and tables.replay_bucket
        else []
    )
    return [
        DynamoDBEventEraser(tables.events, client),
        DynamoDBSessionEraser(tables.sessions, client),
        DynamoDBSessionRecordEraser(tables.sessions, client),
        *replays,
        DynamoDBRejectedEventEraser(tables.rejected_events, client),
        DynamoDBProfileEraser(tables.entities, client),
    ]


def _without_key(item: dict[str, Any]) -> dict[str, Any]:
    plain = deserialize_item(item)
    plain.pop("pk", None)
    return plain


class DynamoDBPersonalDataReader(DynamoDBRepository):
    """Export (GDPR article 15): everything stored about the scope's person, read with GetItem and Query only (and
    S3 GetObject for replay payloads, when asked). Events and replay chunks are yielded one by one, page after page,
    so a long history streams."""

    def __init__(self, tables: ErasureTables, client: DynamoDBClient | None = None) -> None:
        super().__init__(tables.entities, client)
        self._tables = tables

    def _get(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        with translate_errors():
            item = self.client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return item

    def profiles(self, scope: ErasureScope) -> list[dict[str, Any]]:
        from beacon.store.profiles import entity_from_item

        found = (self._get(self._table, profile_key(scope.project_id, i)) for i in sorted(scope.profile_ids))
        return [entity_from_item(item) for item in found if item]

    def aliases(self, scope: ErasureScope) -> list[dict[str, Any]]:
        found = (self._get(self._table, alias_key(scope.project_id, i)) for i in sorted(scope.profile_ids))
        return [_without_key(item) for item in found if item]

    def groups(self, scope: ErasureScope, group_ids: set[str]) -> list[dict[str, Any]]:
        from beacon.store.profiles import entity_from_item, group_key

        found = (self._get(self._table, group_key(scope.project_id, g)) for g in sorted(group_ids))
        return [entity_from_item(item) for item in found if item]

    def sessions(self, scope: ErasureScope) -> list[dict[str, Any]]:
        found = (self._get(self._tables.sessions, session_key(scope.project_id, d)) for d in sorted(scope.device_ids))
        return [_without_key(item) for item in found if item]

    def session_records(self, scope: ErasureScope) -> list[dict[str, Any]]:
        """The ended-session record of each session of the person's events, in the read API's session shape."""
        from beacon.store.sessions import session_view

        found = (self._get(self._tables.sessions, record_key(scope.project_id, s)) for s in sorted(scope.session_ids))
        return [session_view(scope.project_id, item) for item in found if item]

    def replay_chunks(
        self, scope: ErasureScope, payloads: bool = False, s3: Any | None = None
    ) -> Iterator[dict[str, Any]]:
        """The replay index of each session of the person's events, chunk by chunk: its times and sizes and the key
        of its payload in the replay bucket (`object`); with `payloads`, the payload itself (rrweb events as sent,
        up to 2 MiB a chunk), read one at a time. Nothing when the stack stores no replays."""
        if not (self._tables.replays and self._tables.replay_bucket):
            return
        from beacon.store.replays import S3ReplayStore

        store = S3ReplayStore(self._tables.replays, self._tables.replay_bucket, self.client, s3)
        for session in sorted(scope.session_ids):
            arguments: dict[str, Any] = {
                "TableName": self._tables.replays,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": replay_pk(scope.project_id, session)}},
                "ConsistentRead": True,
            }
            for page in pages(self.client.query, arguments):
                for item in page["Items"]:
                    chunk = deserialize_item(item)
                    position = str(chunk["sk"])
                    entry: dict[str, Any] = {
                        "sessionId": session,
                        "chunkIndex": int(chunk["chunkIndex"]),
                        "eventsCount": int(chunk["eventsCount"]),
                        "isFullSnapshot": bool(chunk["isFullSnapshot"]),
                        "startedAt": chunk["startedAt"],
                        "endedAt": chunk["endedAt"],
                        "receivedAt": chunk["receivedAt"],
                        "bytes": int(chunk["bytes"]),
                        "object": object_key(scope.project_id, session, position),
                    }
                    if payloads:
                        entry["payload"] = store.chunk_payload(scope.project_id, session, position)
                    yield entry

    def events(self, scope: ErasureScope) -> Iterator[dict[str, Any]]:
        from beacon.store.reads import event_from_item

        for profile_id in sorted(scope.profile_ids):
            arguments: dict[str, Any] = {
                "TableName": self._tables.events,
                "IndexName": PROFILE_INDEX,
                "KeyConditionExpression": "gsi1pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": f"{scope.project_id}#{profile_id}"}},
            }
            for page in pages(self.client.query, arguments):
                for item in page["Items"]:
                    yield event_from_item(item)


# -- a whole project (`beacon projects erase`) --------------------------------------------------------------------


class DynamoDBProjectPartitionEraser(DynamoDBRepository):
    """Every item of the project in a table keyed `<project>` or `<project>#<shard>` (events, rejected events): a
    Query per partition, keys only."""

    def __init__(self, name: str, table: str, partitions: int | None, client: DynamoDBClient | None = None) -> None:
        super().__init__(table, client)
        self.name = name
        self._partitions = partitions

    def _pages(self, scope: ErasureScope, select_count: bool) -> Iterator[dict[str, Any]]:
        keys = (
            [scope.project_id]
            if self._partitions is None
            else [f"{scope.project_id}#{shard}" for shard in range(self._partitions)]
        )
        for partition in keys:
            arguments: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": partition}},
                **({"Select": "COUNT"} if select_count else {"ProjectionExpression": "pk, sk"}),
            }
            yield from pages(self.client.query, arguments)

    def erase(self, scope: ErasureScope) -> Iterator[int]:
        for page in self._pages(scope, select_count=False):
            if page["Items"]:
                yield delete_keys(self.client, self._table, [_only_keys(item) for item in page["Items"]])

    def count(self, scope: ErasureScope) -> int:
        return sum(int(page["Count"]) for page in self._pages(scope, select_count=True))


class DynamoDBProjectPrefixEraser(DynamoDBRepository):
    """Every item whose hash key starts with `<project>#<prefix>` (entities, sessions, idempotency keys, replay
    index items). These tables have no index by project, so this is a Scan of the whole table: an operator's
    command, run rarely, billed for the table's size (docs/PRIVACY.md). Items under `<project>#<keep>` are kept.
    `range_key`: the table's key is (pk, sk)."""

    def __init__(
        self,
        name: str,
        table: str,
        keep: str = "",
        client: DynamoDBClient | None = None,
        prefix: str = "",
        range_key: bool = False,
    ) -> None:
        super().__init__(table, client)
        self.name = name
        self._keep = keep
        self._prefix = prefix
        self._key = ("pk", "sk") if range_key else ("pk",)

    def _pages(self, scope: ErasureScope, select_count: bool) -> Iterator[dict[str, Any]]:
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "begins_with(pk, :prefix)",
            "ExpressionAttributeValues": {":prefix": {"S": f"{scope.project_id}#{self._prefix}"}},
            **({"Select": "COUNT"} if select_count else {"ProjectionExpression": ", ".join(self._key)}),
        }
        if self._keep:
            arguments["FilterExpression"] += " AND NOT begins_with(pk, :keep)"
            arguments["ExpressionAttributeValues"][":keep"] = {"S": f"{scope.project_id}#{self._keep}"}
        yield from pages(self.client.scan, arguments)

    def erase(self, scope: ErasureScope) -> Iterator[int]:
        for page in self._pages(scope, select_count=False):
            if page["Items"]:
                keys = [{name: item[name] for name in self._key} for item in page["Items"]]
                yield delete_keys(self.client, self._table, keys)

    def count(self, scope: ErasureScope) -> int:
        return sum(int(page["Count"]) for page in self._pages(scope, select_count=True))


class S3ProjectReplayEraser:
    """Every replay chunk's payload of the project: the objects under `replays/<project>/` in the replay bucket,
    listed 1,000 a page and deleted with one DeleteObjects a page. Objects no index item names any more (the
    index's TTL ran before the bucket's rule) go too: the prefix is the project's. The index items are the
    `replayIndex` eraser's, which runs after this one, so a run killed in between finds the items left."""

    name = "replays"

    def __init__(self, bucket: str, s3: Any | None = None) -> None:
        self._bucket = bucket
        self._s3 = s3

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = s3_client()
        return self._s3

    def _pages(self, scope: ErasureScope) -> Iterator[list[str]]:
        arguments: dict[str, Any] = {"Bucket": self._bucket, "Prefix": f"replays/{scope.project_id}/"}
        while True:
            with translate_s3_errors():
                page = self.s3.list_objects_v2(**arguments)
            keys = [entry["Key"] for entry in page.get("Contents", [])]
            if keys:
                yield keys
            if not page.get("IsTruncated"):
                return
            arguments["ContinuationToken"] = page["NextContinuationToken"]

    def erase(self, scope: ErasureScope) -> Iterator[int]:
        for keys in self._pages(scope):
            with translate_s3_errors():
                answer = self.s3.delete_objects(
                    Bucket=self._bucket, Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True}
                )
            if answer.get("Errors"):
                raise RuntimeError(f"S3 refused to delete {len(answer['Errors'])} replay chunks; run again")
            yield len(keys)

    def count(self, scope: ErasureScope) -> int:
        return sum(len(keys) for keys in self._pages(scope))


PROJECT_ERASURE = "\x00project"  # the "profile id" of a project's erasure: no profile id holds a NUL


def project_erasers(
    tables: ErasureTables, idempotency_table: str, client: DynamoDBClient | None = None, s3: Any | None = None
) -> list[StoreEraser]:
    """The registry of a whole project's erasure (the lake and the clients are added by the caller). Erasure
    receipts are kept: they hold counts and times, no person, and prove what was done. The sessions table's two
    kinds are counted apart: a device's current session, and the ended sessions' records. Replays (when the stack
    stores them): the chunks' payloads first, then their index items."""
    replays: list[StoreEraser] = (
        [
            S3ProjectReplayEraser(tables.replay_bucket, s3),
            DynamoDBProjectPrefixEraser("replayIndex", tables.replays, client=client, range_key=True),
        ]
        if tables.replays and tables.replay_bucket
        else []
    )
    return [
        DynamoDBProjectPartitionEraser("events", tables.events, EVENT_SHARDS, client),
        DynamoDBProjectPartitionEraser("rejected", tables.rejected_events, None, client),
        DynamoDBProjectPrefixEraser("sessions", tables.sessions, keep="session#", client=client),
        DynamoDBProjectPrefixEraser("sessionRecords", tables.sessions, client=client, prefix="session#"),
        *replays,
        DynamoDBProjectPrefixEraser("idempotency", idempotency_table, client=client),
        DynamoDBProjectPrefixEraser("entities", tables.entities, keep="erasure#", client=client),
    ]
