"""Reads for the read API: events by Query only (never Scan), profiles and groups by GetItem.

A project's events are spread over EVENT_SHARDS partitions ("<project>#<shard>", DATA_MODEL.md). A page,
newest first, queries every shard over the window's sort-key range with ScanIndexForward=False and merges
them by sort key. Shards are read lazily: the first round asks each shard, in parallel, for a little more
than its share of the page; a shard is asked again only when the merge runs out of its items while it may
still hold newer events than the ones waiting in the other shards. A profile's events come from one
partition of the byProfile index, so the same merge runs over a single source.

Positions between pages are sort keys ("<ISO ms>#<event id>", unique within a project). The next page
starts strictly below the position, in every shard: a BETWEEN bound just under it (`key_before`), so no
synthetic ExclusiveStartKey is ever sent; within a page, a shard resumes from its own LastEvaluatedKey.
"""

from __future__ import annotations

import base64
import json
import math
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from beacon.domain.entities import EventNames, EventPage, TimeWindow
from beacon.store.dynamodb import DynamoDBRepository, item_size, translate_errors
from beacon.store.events import EVENT_SHARDS, PROFILE_INDEX, isoformat_ms
from beacon.store.profiles import DynamoDBProfileStore
from beacon.text import well_formed_json

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Every character of a sort key (ISO time digits and punctuation, '#', hex event id) sorts below '~'.
SORT_KEY_CEILING = "~"
# First round: each shard is asked for its expected share of the page times this, plus PAD items (18 for a
# page of 100). bench/reads.py: 1.0 needs a second round for some shard on most pages (slower, and each extra
# query is rounded up to its own 4 KB), 1.5 reads more than it saves; 1.25 costs the fewest read units.
OVERFETCH = 1.25
PAD = 2
# A page stops early, with a cursor, rather than read without bound: a rare `event` over a busy window can
# take several pages of few (or no) events. Filtered queries double their Limit on every round, up to 1,000.
MAX_QUERIES_PER_PAGE = 40
FILTERED_MAX_LIMIT = 1000
# Lambda answers at most 6 MB, and an event's JSON is at most about twice its DynamoDB size (small numbers and
# keys), escaped once more inside the proxy response: pages stop at 2 MB of items, with a cursor.
MAX_PAGE_BYTES = 2 * 1024 * 1024
KEY_ATTRIBUTES = frozenset({"pk", "sk", "gsi1pk", "gsi1sk", "expiresAt"})


def key_before(sort_key: str) -> str:
    """The inclusive upper bound that admits exactly the sort keys below `sort_key` (BETWEEN has no `<`):
    its last character decremented, then a character above any a sort key holds."""
    return sort_key[:-1] + chr(ord(sort_key[-1]) - 1) + SORT_KEY_CEILING


def window_bounds(window: TimeWindow, after: str | None) -> tuple[str, str] | None:
    """Sort-key bounds (inclusive) of the window, below `after` when given; None when nothing can match."""
    lower = isoformat_ms(window.start)
    upper = isoformat_ms(window.end) + SORT_KEY_CEILING  # any event id of the end's millisecond
    if after is not None:
        upper = min(upper, key_before(after))
    return None if upper < lower else (lower, upper)


# -- DynamoDB values to the API's plain data -------------------------------------------------------------------


def plain_number(number: Decimal) -> int | float:
    # Floats were stored as the Decimal of their repr, so float() gives back the very float that was sent.
    return int(number) if number == number.to_integral_value() else float(number)


def from_attribute(value: dict[str, Any]) -> Any:
    """One DynamoDB attribute value as JSON-ready data (numbers as int/float, sets as sorted lists)."""
    ((kind, data),) = value.items()
    if kind == "S" or kind == "BOOL":
        return data
    if kind == "N":
        return plain_number(Decimal(data))
    if kind == "M":
        return {key: from_attribute(item) for key, item in data.items()}
    if kind == "L":
        return [from_attribute(item) for item in data]
    if kind == "NULL":
        return None
    if kind == "SS":
        return sorted(data)
    if kind == "NS":
        return sorted(plain_number(Decimal(item)) for item in data)
    if kind == "B":  # base64 text when the item skipped botocore's parser (fast_query_items), else bytes
        return data if isinstance(data, str) else base64.b64encode(data).decode()
    if kind == "BS":
        return sorted(item if isinstance(item, str) else base64.b64encode(item).decode() for item in data)
    raise ValueError(f"unknown attribute type {kind}")


def plain(value: Any) -> Any:
    """Deserialized DynamoDB data (Decimals, sets) as JSON-ready data."""
    if isinstance(value, Decimal):
        return plain_number(value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted(plain(item) for item in value)
    return value


def current_geo(geo: dict[str, Any]) -> dict[str, Any]:
    """An item stored before `region` became the subdivision's name (`region` code, `regionName` name) reads as
    items stored since: `region` the name, `regionCode` the code."""
    if "regionName" not in geo:
        return geo
    old = dict(geo)
    name, code = old.pop("regionName"), old.pop("region", None)
    return old | {"region": name} | ({"regionCode": code} if code is not None else {})


def event_from_item(item: dict[str, Any]) -> dict[str, Any]:
    """A stored event item (store/events.py event_to_item) in the read API's event shape."""
    data = {key: from_attribute(value) for key, value in item.items() if key not in KEY_ATTRIBUTES}
    return {
        "id": data["id"],
        "name": data["name"],
        "projectId": data["projectId"],
        "clientId": data.get("clientId"),
        # An anonymous event's profile is its device, as OpenPanel counts users (not stored: no index write for it).
        "profileId": data.get("profileId") or data.get("deviceId") or None,
        "deviceId": data.get("deviceId", ""),
        "sessionId": data.get("sessionId", ""),
        "createdAt": data["createdAt"],
        "receivedAt": data.get("receivedAt", data["createdAt"]),
        "clientTimestamp": data.get("clientTimestamp"),
        "fromPast": data.get("fromPast", False),
        "properties": data.get("properties", {}),
        "groups": data.get("groups"),
        "revenue": data.get("revenue"),
        "device": data.get("device", {}),
        "geo": current_geo(data.get("geo", {})),
        "ip": data.get("ip"),
        "path": data.get("path", ""),
        "origin": data.get("origin", ""),
        "referrer": data.get("referrer", ""),
        "referrerName": data.get("referrerName", ""),
        "referrerType": data.get("referrerType", ""),
        "sdkName": data.get("sdkName", ""),
        "sdkVersion": data.get("sdkVersion", ""),
    }


# -- events ----------------------------------------------------------------------------------------------------

FAST_ITEMS_HOOK = "beacon-read-fast-query-items"


def fast_query_items(response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any) -> None:
    """botocore's before-parse hook for Query: take `Items` out of the body and hand them on as json.loads
    made them. They are DynamoDB JSON already, the shape the read path consumes; botocore's model-driven
    parser spends several times json.loads' CPU per event doing the same (bench/reads.py measures it), most
    of a page's function time. The rest of the body (Count, LastEvaluatedKey, ConsumedCapacity) is parsed as
    usual, and botocore adds `customized_response_dict` to what it parsed. Errors are left alone; the
    CRC32 check reads the HTTP response itself. The one difference: binary values stay base64 text."""
    if response_dict.get("status_code") != 200:
        return
    body = json.loads(well_formed_json(response_dict["body"]))  # stored lone surrogates: see beacon/text.py
    if "Items" in body:
        customized_response_dict["Items"] = body.pop("Items")
        response_dict["body"] = json.dumps(body).encode()


@cache
def shared_pool() -> Executor:
    """One small pool per container for the shard queries (boto3 clients are thread-safe)."""
    return ThreadPoolExecutor(max_workers=EVENT_SHARDS, thread_name_prefix="beacon-read")


@dataclass
class _Source:
    """One partition read newest first: what it returned and the merge has not used yet, and how far it got."""

    request: dict[str, Any]
    limit: int
    items: deque[dict[str, Any]] = field(default_factory=deque)
    start_key: dict[str, Any] | None = None
    frontier: str | None = None  # sort key of the last item DynamoDB evaluated; None before the first query
    done: bool = False

    @property
    def head(self) -> str:
        return str(self.items[0]["sk"]["S"])


@dataclass
class ReadStats:
    """What the last page cost in requests, for the benchmark and the tests."""

    queries: int = 0
    evaluated: int = 0


class DynamoDBEventReader(DynamoDBRepository):
    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        pool: Executor | None = None,
        overfetch: float = OVERFETCH,
        max_queries: int = MAX_QUERIES_PER_PAGE,
        parallel: bool = True,
        fast_items: bool = True,
        max_page_bytes: int = MAX_PAGE_BYTES,
    ) -> None:
        super().__init__(table_name, client)
        self._pool = pool
        self._overfetch = overfetch
        self._max_queries = max(max_queries, EVENT_SHARDS)
        self._parallel = parallel
        self._fast_items = fast_items
        self._max_page_bytes = max_page_bytes
        self._hooked = False
        self.last_stats = ReadStats()

    @property
    def client(self) -> DynamoDBClient:
        client = super().client
        if self._fast_items and not self._hooked:
            # Idempotent (unique id): a shared client gets the hook once, whichever reader comes first.
            client.meta.events.register("before-parse.dynamodb.Query", fast_query_items, unique_id=FAST_ITEMS_HOOK)
            self._hooked = True
        return client

    @property
    def pool(self) -> Executor:
        if self._pool is None:
            self._pool = shared_pool()
        return self._pool

    def project_events(
        self, project_id: str, window: TimeWindow, limit: int, after: str | None, event_name: EventNames
    ) -> EventPage:
        bounds = window_bounds(window, after)
        if bounds is None:
            return EventPage([], None)
        first_limit = math.ceil(limit / EVENT_SHARDS * self._overfetch) + PAD
        sources = [
            self._source("pk", f"{project_id}#{shard}", bounds, event_name, first_limit, index=None)
            for shard in range(EVENT_SHARDS)
        ]
        return self._merge(sources, limit, filtered=event_name is not None)

    def profile_events(
        self,
        project_id: str,
        profile_id: str,
        window: TimeWindow,
        limit: int,
        after: str | None,
        event_name: EventNames,
    ) -> EventPage:
        bounds = window_bounds(window, after)
        if bounds is None:
            return EventPage([], None)
        # One partition: one more than the page tells whether another page exists.
        source = self._source("gsi1pk", f"{project_id}#{profile_id}", bounds, event_name, limit + 1, PROFILE_INDEX)
        return self._merge([source], limit, filtered=event_name is not None)

    def profile_activity(self, project_id: str, profile_id: str) -> tuple[str | None, str | None]:
        def edge(oldest_first: bool) -> str | None:
            with translate_errors():
                response = self.client.query(
                    TableName=self._table,
                    IndexName=PROFILE_INDEX,
                    KeyConditionExpression="gsi1pk = :pk",
                    ExpressionAttributeValues={":pk": {"S": f"{project_id}#{profile_id}"}},
                    ScanIndexForward=oldest_first,
                    Limit=1,
                    ProjectionExpression="createdAt",
                )
            items = response["Items"]
            return str(items[0]["createdAt"]["S"]) if items else None

        oldest, newest = self._map(edge, [True, False])
        return oldest, newest

    def _source(
        self,
        hash_key: str,
        partition: str,
        bounds: tuple[str, str],
        event_name: EventNames,
        limit: int,
        index: str | None,
    ) -> _Source:
        range_key = "gsi1sk" if index else "sk"
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": f"{hash_key} = :pk AND {range_key} BETWEEN :lower AND :upper",
            "ExpressionAttributeValues": {
                ":pk": {"S": partition},
                ":lower": {"S": bounds[0]},
                ":upper": {"S": bounds[1]},
            },
            "ScanIndexForward": False,
        }
        if index:
            request["IndexName"] = index
        if event_name is not None:
            # Evaluated items still cost read units; the filter saves transfer and deserialization only.
            names = (event_name,) if isinstance(event_name, str) else event_name
            placeholders = [f":name{i}" for i in range(len(names))]
            request["FilterExpression"] = (
                f"#name = {placeholders[0]}" if len(names) == 1 else f"#name IN ({', '.join(placeholders)})"
            )
            request["ExpressionAttributeNames"] = {"#name": "name"}
            for placeholder, name in zip(placeholders, names, strict=True):
                request["ExpressionAttributeValues"][placeholder] = {"S": name}
        return _Source(request=request, limit=limit)

    def _merge(self, sources: list[_Source], limit: int, filtered: bool) -> EventPage:
        """k-way merge, newest first. An item is taken only when no source can still hold a newer one:
        every source either has items waiting (all older than the item taken), is exhausted, or has been
        evaluated down below the item (its frontier)."""
        stats = self.last_stats = ReadStats()
        page: list[dict[str, Any]] = []
        size = 0
        stopped_at: str | None = None
        while len(page) < limit and size < self._max_page_bytes:
            newest = max((source for source in sources if source.items), key=lambda source: source.head, default=None)
            behind = [
                source
                for source in sources
                if not source.items
                and not source.done
                and (newest is None or source.frontier is None or source.frontier > newest.head)
            ]
            if behind:
                if stats.queries + len(behind) > self._max_queries:
                    # Everything above the highest unexplored point has been seen: the next page starts there.
                    stopped_at = max(str(source.frontier) for source in behind)
                    break
                evaluated = self._map(lambda source: self._fetch(source, filtered), behind)
                stats.queries += len(behind)
                stats.evaluated += sum(evaluated)
                continue
            if newest is None:
                break  # every source is exhausted
            item = newest.items.popleft()
            page.append(item)
            size += item_size(item)
        if stopped_at is None and len(page) >= limit and not any(source.items for source in sources):
            # The page filled exactly as every buffer ran dry: look once more, so that a reader whose data
            # ends on a page boundary gets `next: null` rather than a cursor to an empty page.
            pending = [source for source in sources if not source.done]
            if pending and stats.queries + len(pending) <= self._max_queries:
                evaluated = self._map(lambda source: self._fetch(source, filtered), pending)
                stats.queries += len(pending)
                stats.evaluated += sum(evaluated)
        if stopped_at is not None:
            resume_after: str | None = stopped_at
        elif all(source.done and not source.items for source in sources):
            resume_after = None
        else:
            resume_after = str(page[-1]["sk"]["S"])
        return EventPage([event_from_item(item) for item in page], resume_after)

    def _fetch(self, source: _Source, filtered: bool) -> int:
        """Query the source's next items; returns how many DynamoDB evaluated (what read units pay for)."""
        request = {**source.request, "Limit": source.limit}
        if source.start_key is not None:
            request["ExclusiveStartKey"] = source.start_key
        with translate_errors():
            response = self.client.query(**request)
        source.items.extend(response["Items"])
        last_key = response.get("LastEvaluatedKey")
        if last_key:
            source.start_key = last_key
            source.frontier = str(last_key["sk"]["S"])
        else:
            source.done = True
        if filtered:
            source.limit = min(source.limit * 2, FILTERED_MAX_LIMIT)
        return int(response.get("ScannedCount", 0))

    def _map(self, function: Any, arguments: Iterable[Any]) -> list[Any]:
        arguments = list(arguments)
        if len(arguments) == 1 or not self._parallel:
            return [function(argument) for argument in arguments]
        return list(self.pool.map(function, arguments))


# -- profiles and groups ---------------------------------------------------------------------------------------


class DynamoDBEntityReader:
    """Profiles, aliases and groups as the read API shows them (numbers as numbers, sets as sorted lists)."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self._profiles = DynamoDBProfileStore(table_name, client)

    def resolve_profile_id(self, project_id: str, profile_id: str) -> str:
        return self._profiles.resolve_profile_id(project_id, profile_id)

    def get_profile(self, project_id: str, profile_id: str) -> dict[str, Any] | None:
        profile = self._profiles.get_profile(project_id, profile_id)
        if profile is None:
            return None
        data: dict[str, Any] = plain(profile)
        if isinstance(data.get("geo"), dict):
            data["geo"] = current_geo(data["geo"])
        return data

    def get_group(self, project_id: str, group_id: str) -> dict[str, Any] | None:
        group = self._profiles.get_group(project_id, group_id)
        return None if group is None else plain(group)
