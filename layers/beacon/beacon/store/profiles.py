"""The entities table: profiles, their aliases, and groups. Item layout in DATA_MODEL.md.

Profile and group properties are stored one top-level attribute per property ("p:<key>"), so an
identify merges with plain SETs (a SET of a whole map and of a key inside it would overlap).

A profile or group that DynamoDB's 400 KB item limit leaves no room in is full: every write that would grow it
is a 409 naming the limit (never a 503, which means a dependency is down, and never "not numeric"). Identify
stops adding to a profile earlier, once the profile has passed MAX_PROFILE_KB, so that counters, aliases and
groups always keep room below the item limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from beacon.domain.entities import GroupUpdate, ProfileUpdate, TrackResult
from beacon.errors import ConflictError, DependencyUnavailableError, InvalidRequestError
from beacon.store.aws import error_code
from beacon.store.dynamodb import (
    DynamoDBRepository,
    cancellation_codes,
    deserialize_item,
    serialize,
    transact,
    translate_errors,
)
from beacon.store.events import isoformat_ms
from beacon.store.idempotency import answer_claim_action

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PROPERTY_PREFIX = "p:"

ITEM_LIMIT_KB = 400  # DynamoDB's item size limit (KB of 1,024 bytes, names and values, as DynamoDB measures)
# A profile past this size takes no more identifies (409). One identify adds at most one request's worth (a 64 KiB
# body, under 100 KB as DynamoDB measures it), so a profile stays under ~360 KB: room for counters, aliases, groups.
MAX_PROFILE_KB = 256
FULL_AT = "fullAt"  # set on a profile when an identify finds it past MAX_PROFILE_KB (when, ISO ms)
ITEM_LIMIT_REASON = f"it has reached DynamoDB's {ITEM_LIMIT_KB} KB item limit"
PROFILE_BOUND_REASON = (
    f"it holds more than {MAX_PROFILE_KB} KB, the most identify adds to (counters, aliases and groups still fit)"
)


def profile_key(project_id: str, profile_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"{project_id}#profile#{profile_id}"}}


def alias_key(project_id: str, alias: str) -> dict[str, Any]:
    return {"pk": {"S": f"{project_id}#alias#{alias}"}}


def group_key(project_id: str, group_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"{project_id}#group#{group_id}"}}


@dataclass
class UpdateBuilder:
    """Accumulates an UpdateExpression with generated placeholders."""

    sets: list[str] = field(default_factory=list)
    adds: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    def name(self, attribute: str) -> str:
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = serialize(value)
        return placeholder

    def set(self, attribute: str, value: Any) -> None:
        self.sets.append(f"{self.name(attribute)} = {self.value(value)}")

    def set_once(self, attribute: str, value: Any) -> None:
        name = self.name(attribute)
        self.sets.append(f"{name} = if_not_exists({name}, {self.value(value)})")

    def add_to_set(self, attribute: str, members: list[str]) -> None:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = {"SS": sorted(set(members))}
        self.adds.append(f"{self.name(attribute)} {placeholder}")

    def entity(self, kind: str, project_id: str, id_attribute: str, entity_id: str, now: datetime) -> None:
        """The attributes every profile or group item carries."""
        self.set("kind", kind)
        self.set("projectId", project_id)
        self.set(id_attribute, entity_id)
        self.set_once("createdAt", isoformat_ms(now))
        self.set("updatedAt", isoformat_ms(now))

    def properties(self, properties: dict[str, Any]) -> None:
        for key, value in properties.items():
            self.set(PROPERTY_PREFIX + key, value)

    def expression(self) -> dict[str, Any]:
        clauses = []
        if self.sets:
            clauses.append("SET " + ", ".join(self.sets))
        if self.adds:
            clauses.append("ADD " + ", ".join(self.adds))
        request: dict[str, Any] = {"UpdateExpression": " ".join(clauses), "ExpressionAttributeNames": self.names}
        if self.values:
            request["ExpressionAttributeValues"] = self.values
        return request


def entity_from_item(item: dict[str, Any]) -> dict[str, Any]:
    """A stored profile or group as plain data: properties gathered back into one map."""
    plain = deserialize_item(item)
    properties = {key[len(PROPERTY_PREFIX) :]: plain.pop(key) for key in list(plain) if key.startswith(PROPERTY_PREFIX)}
    plain.pop("pk", None)
    for set_attribute in ("groups", "aliases"):
        if set_attribute in plain:
            plain[set_attribute] = sorted(plain[set_attribute])
    plain["properties"] = properties
    return plain


class DynamoDBProfileStore(DynamoDBRepository):
    def __init__(
        self, table_name: str, client: DynamoDBClient | None = None, idempotency_table: str | None = None
    ) -> None:
        super().__init__(table_name, client)
        self._idempotency_table = idempotency_table

    def _update(self, key: dict[str, Any], builder: UpdateBuilder, **extra: Any) -> dict[str, Any]:
        request = builder.expression()
        if "ConditionValues" in extra:
            request.setdefault("ExpressionAttributeValues", {}).update(extra.pop("ConditionValues"))
        with translate_errors():
            response = self.client.update_item(TableName=self._table, Key=key, **request, **extra)
        return dict(response)

    # -- reads ---------------------------------------------------------------------------------------
    def resolve_profile_id(self, project_id: str, profile_id: str) -> str:
        """The canonical profile id: the aliased profile when profile_id is an alias, else itself."""
        with translate_errors():
            response = self.client.get_item(
                TableName=self._table,
                Key=alias_key(project_id, profile_id),
                ProjectionExpression="profileId",
                ConsistentRead=True,
            )
        item = response.get("Item")
        return profile_id if item is None else str(item["profileId"]["S"])

    def get_profile(self, project_id: str, profile_id: str) -> dict[str, Any] | None:
        return self._get(profile_key(project_id, profile_id))

    def get_group(self, project_id: str, group_id: str) -> dict[str, Any] | None:
        return self._get(group_key(project_id, group_id))

    def _get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        with translate_errors():
            item = self.client.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        return None if item is None else entity_from_item(item)

    # -- writes --------------------------------------------------------------------------------------
    def identify(self, project_id: str, update: ProfileUpdate, now: datetime) -> None:
        builder = UpdateBuilder()
        builder.entity("profile", project_id, "profileId", update.profile_id, now)
        for attribute in ("first_name", "last_name", "email", "avatar"):
            value = getattr(update, attribute)
            if value is not None:
                builder.set(_camel(attribute), value)
        for attribute, enrichment in (("device", update.device), ("geo", update.geo)):
            if enrichment:
                builder.set(attribute, enrichment)  # the latest seen device and location
        builder.properties(update.properties)
        key = profile_key(project_id, update.profile_id)
        full = builder.name(FULL_AT)
        try:
            # The write's capacity is the larger of the item's sizes before and after it, in KB: its size, for free.
            response = self._update(
                key, builder, ConditionExpression=f"attribute_not_exists({full})", ReturnConsumedCapacity="TOTAL"
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise entity_full("profile", PROFILE_BOUND_REASON) from exc
            if item_too_large(exc):
                raise entity_full("profile", ITEM_LIMIT_REASON) from exc
            if error_code(exc) == "ValidationException":
                raise InvalidRequestError(f"The profile cannot hold these properties: {_message(exc)}") from exc
            raise
        if response.get("ConsumedCapacity", {}).get("CapacityUnits", 0) > MAX_PROFILE_KB:
            self._mark_full(key, now)

    def _mark_full(self, key: dict[str, Any], now: datetime) -> None:
        """Later identifies of this profile are refused. Best effort: the identify is stored whatever happens here,
        and the next one that finds the profile past the bound marks it again."""
        builder = UpdateBuilder()
        builder.set_once(FULL_AT, isoformat_ms(now))
        try:
            self._update(key, builder)
        except DependencyUnavailableError:
            pass
        except ClientError as exc:
            if not item_too_large(exc):  # too large for even this: full, and every write says so at the limit
                raise

    def add_alias(self, project_id: str, profile_id: str, alias: str, now: datetime) -> None:
        """Record alias → profile_id, atomically with the profile's alias set. Idempotent for the same pair."""
        builder = UpdateBuilder()
        builder.entity("profile", project_id, "profileId", profile_id, now)
        builder.add_to_set("aliases", [alias])
        request = builder.expression()
        alias_item = {
            **alias_key(project_id, alias),
            "kind": {"S": "alias"},
            "projectId": {"S": project_id},
            "alias": {"S": alias},
            "profileId": {"S": profile_id},
            "createdAt": {"S": isoformat_ms(now)},
        }
        items: list[Any] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": alias_item,
                    "ConditionExpression": "attribute_not_exists(pk) OR profileId = :target",
                    "ExpressionAttributeValues": {":target": {"S": profile_id}},
                }
            },
            {"Update": {"TableName": self._table, "Key": profile_key(project_id, profile_id), **request}},
            {
                # One-hop resolution: an id that already has aliases of its own cannot become an alias.
                "ConditionCheck": {
                    "TableName": self._table,
                    "Key": profile_key(project_id, alias),
                    "ConditionExpression": "attribute_not_exists(aliases)",
                }
            },
            {
                # The target must not have become an alias itself meanwhile.
                "ConditionCheck": {
                    "TableName": self._table,
                    "Key": alias_key(project_id, profile_id),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        try:
            with translate_errors():
                self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if item_too_large(exc):  # the profile's alias set cannot grow
                raise entity_full("profile", ITEM_LIMIT_REASON) from exc
            if error_code(exc) != "TransactionCanceledException":
                raise
            codes = cancellation_codes(exc)
            if codes and codes[0] == "ConditionalCheckFailed":
                raise ConflictError(f"'{alias}' is already an alias of another profile") from exc
            if len(codes) > 2 and codes[2] == "ConditionalCheckFailed":
                raise ConflictError(f"'{alias}' has aliases of its own and cannot become an alias") from exc
            if len(codes) > 3 and codes[3] == "ConditionalCheckFailed":
                raise ConflictError(f"'{profile_id}' became an alias meanwhile; retry") from exc
            raise

    def add_to_property(
        self,
        project_id: str,
        profile_id: str,
        path: list[str],
        delta: Decimal,
        now: datetime,
        idempotency_key: str | None = None,
        answer: TrackResult | None = None,
    ) -> None:
        """Atomically add delta to a numeric property (dot path), starting from 0; creates missing maps.
        With an idempotency key, the addition and the key's claim are one transaction (DuplicateEventError)."""
        key = profile_key(project_id, profile_id)
        builder = UpdateBuilder()
        builder.entity("profile", project_id, "profileId", profile_id, now)
        document = ".".join([builder.name(PROPERTY_PREFIX + path[0]), *(builder.name(part) for part in path[1:])])
        zero, amount = builder.value(0), builder.value(delta)
        builder.sets.append(f"{document} = if_not_exists({document}, {zero}) + {amount}")
        condition = {
            "ConditionExpression": f"attribute_not_exists({document}) OR attribute_type({document}, :numberType)",
            "ConditionValues": {":numberType": {"S": "N"}},
        }
        if idempotency_key is not None and answer is not None:
            if len(path) > 1:
                self._create_maps(key, path)  # idempotent on its own; the addition below is the claimed part
            self._claimed_update(key, builder, condition, project_id, idempotency_key, answer, now, path)
            return
        try:
            self._update(key, builder, **condition)
            return
        except ClientError as exc:
            code = error_code(exc)
            if code == "ConditionalCheckFailedException":
                raise not_numeric(path, "existing value is not numeric") from exc
            if out_of_number_range(exc):
                raise not_numeric(path, OUT_OF_RANGE) from exc
            if item_too_large(exc):
                raise entity_full("profile", ITEM_LIMIT_REASON) from exc
            if code != "ValidationException" or len(path) == 1:
                raise
        # A parent map is missing: create each level if absent (idempotent, race-free), then add once.
        self._create_maps(key, path)
        try:
            self._update(key, builder, **condition)
        except ClientError as exc:
            if out_of_number_range(exc):
                raise not_numeric(path, OUT_OF_RANGE) from exc
            if item_too_large(exc):
                raise entity_full("profile", ITEM_LIMIT_REASON) from exc
            if error_code(exc) in ("ValidationException", "ConditionalCheckFailedException"):
                raise not_numeric(path, "the path crosses a value that is not an object") from exc
            raise

    def _claimed_update(
        self,
        key: dict[str, Any],
        builder: UpdateBuilder,
        condition: dict[str, Any],
        project_id: str,
        idempotency_key: str,
        answer: TrackResult,
        now: datetime,
        path: list[str],
    ) -> None:
        if self._idempotency_table is None:
            raise RuntimeError("an idempotency key needs the idempotency table")
        request = builder.expression()
        request.setdefault("ExpressionAttributeValues", {}).update(condition["ConditionValues"])
        update = {
            "Update": {
                "TableName": self._table,
                "Key": key,
                "ConditionExpression": condition["ConditionExpression"],
                **request,
            }
        }
        claim = answer_claim_action(self._idempotency_table, project_id, idempotency_key, answer, now)
        try:
            transact(self.client, [claim, update], claims=1)
        except ClientError as exc:
            if item_too_large(exc):
                raise entity_full("profile", ITEM_LIMIT_REASON) from exc
            if out_of_number_range(exc) or _out_of_number_range_reason(exc):
                raise not_numeric(path, OUT_OF_RANGE) from exc
            if error_code(exc) == "ValidationException":  # DynamoDB refuses a path through a non-map outright
                raise not_numeric(path, "the path crosses a value that is not an object") from exc
            codes = cancellation_codes(exc) if error_code(exc) == "TransactionCanceledException" else []
            if len(codes) > 1 and codes[1] not in (None, "None"):
                raise not_numeric(path, "existing value is not numeric, or the path crosses a non-object") from exc
            raise

    def _create_maps(self, key: dict[str, Any], path: list[str]) -> None:
        for depth in range(1, len(path)):
            builder = UpdateBuilder()
            names = [builder.name(PROPERTY_PREFIX + path[0]), *(builder.name(part) for part in path[1:depth])]
            document = ".".join(names)
            builder.sets.append(f"{document} = if_not_exists({document}, {builder.value({})})")
            try:
                self._update(key, builder)
            except ClientError as exc:
                if item_too_large(exc):
                    raise entity_full("profile", ITEM_LIMIT_REASON) from exc
                if error_code(exc) != "ValidationException":
                    raise
                return  # a level is not a map: the final update reports it

    def upsert_group(self, project_id: str, group: GroupUpdate, now: datetime) -> None:
        builder = UpdateBuilder()
        builder.entity("group", project_id, "groupId", group.group_id, now)
        builder.set("type", group.type)
        builder.set("name", group.name)
        builder.properties(group.properties)
        self._update_within_item_limit(group_key(project_id, group.group_id), builder, "group")

    def add_groups(self, project_id: str, profile_id: str, group_ids: list[str], now: datetime) -> None:
        builder = UpdateBuilder()
        builder.entity("profile", project_id, "profileId", profile_id, now)
        builder.add_to_set("groups", group_ids)
        self._update_within_item_limit(profile_key(project_id, profile_id), builder, "profile")

    def _update_within_item_limit(self, key: dict[str, Any], builder: UpdateBuilder, kind: str) -> None:
        try:
            self._update(key, builder)
        except ClientError as exc:
            if item_too_large(exc):
                raise entity_full(kind, ITEM_LIMIT_REASON) from exc
            if error_code(exc) == "ValidationException":
                raise InvalidRequestError(f"The {kind} cannot hold these properties: {_message(exc)}") from exc
            raise


OUT_OF_RANGE = "the result would not be a DynamoDB number (38 digits, below 1e126)"


def out_of_number_range(exc: ClientError) -> bool:
    """DynamoDB refused the sum itself: more than 38 significant digits, or a magnitude it cannot hold."""
    message = str(exc.response.get("Error", {}).get("Message", "")).lower()
    return error_code(exc) == "ValidationException" and any(
        word in message for word in ("precision", "overflow", "underflow")
    )


def _out_of_number_range_reason(exc: ClientError) -> bool:
    """The same, as the reason of a cancelled transaction's action."""
    return any(
        reason.get("Code") == "ValidationError"
        and any(word in str(reason.get("Message", "")).lower() for word in ("precision", "overflow", "underflow"))
        for reason in exc.response.get("CancellationReasons", [])
    )


def item_too_large(exc: ClientError) -> bool:
    """DynamoDB refused a write because the item would pass its 400 KB limit: "Item size has exceeded the maximum
    allowed size" (PutItem), "Item size to update has exceeded …" (UpdateItem), or either as the reason of an action
    of a cancelled transaction."""
    if error_code(exc) == "ValidationException":
        return _is_item_size_message(_message(exc))
    return error_code(exc) == "TransactionCanceledException" and any(
        reason.get("Code") == "ValidationError" and _is_item_size_message(str(reason.get("Message", "")))
        for reason in exc.response.get("CancellationReasons", [])
    )


def _is_item_size_message(message: str) -> bool:
    text = message.lower()
    return "item size" in text and "exceeded the maximum allowed size" in text


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


def entity_full(kind: str, reason: str) -> ConflictError:
    """409: the profile or group has no room for the write; the same request succeeds on an emptier one."""
    return ConflictError(
        f"The {kind} is full: {reason}",
        details=[
            {
                "field": "payload.profileId" if kind == "profile" else "payload.id",
                "message": reason,
                "type": f"{kind}_full",
            }
        ],
    )


def not_numeric(path: list[str], reason: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"Property '{'.'.join(path)}' cannot be incremented: {reason}",
        details=[{"field": "payload.property", "message": reason, "type": "not_numeric"}],
    )


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)
