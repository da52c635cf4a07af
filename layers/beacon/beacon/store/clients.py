"""Client records in Secrets Manager: one secret per client under a stack-scoped prefix.

Lookups are cached in memory per container, in two bounded LRU structures that never clear each other: the records
found (for CLIENT_CACHE_SECONDS; past that a record is refetched, but the id stays known), and the ids found missing
(for a few seconds). The authorizer looks clients up through IssuedClientLookup, which refuses an id Beacon never
issued before any call (docs/DESIGN.md §2, §4): a signed id must carry a valid MAC (one read of the stack key per
container), an id made before signed ids must be on the stack's legacy list (one read per container, at most one
refresh a minute). Until that list is recorded (`beacon clients legacy-ids`), such ids are looked up within a small
budget per container, so a flood of random ids costs a bounded number of calls, never one per id.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from botocore.exceptions import ClientError

from beacon.domain.auth import (
    ClientRecord,
    SecretHash,
    client_id_key,
    client_id_signature_valid,
    is_client_id,
    is_signed_client_id,
)
from beacon.domain.entities import ClientType
from beacon.errors import DependencyUnavailableError
from beacon.store.aws import TRANSPORT_ERRORS, error_code, secretsmanager_client, unavailable
from beacon.store.device_salt import SecretsManagerStackSecret

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

NEGATIVE_CACHE_SECONDS = 5.0
# A secret that does not match the cached record refetches it (it may have just been rotated), at most this often.
FRESH_LOOKUP_INTERVAL_SECONDS = 5.0
MAX_CACHED_CLIENTS = 10_000  # records found; past it the least recently used is dropped (~1 KB each)
MAX_CACHED_UNKNOWN = 1_000  # ids found missing, in a structure of their own: they never push out a record
# The ids of clients made before signed ids, one secret under the client prefix (not a UUID, so never a client's).
LEGACY_IDS_NAME = "legacy-client-ids"
LEGACY_IDS_REFRESH_SECONDS = 60.0  # an unsigned id not on the list rereads it at most this often
# Before the legacy list exists: unsigned ids not yet known are looked up at most this often per container.
UNLISTED_LOOKUP_BURST = 10
UNLISTED_LOOKUPS_PER_SECOND = 1.0

K = TypeVar("K")
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """A dict bounded to `capacity` entries: reading or writing an entry makes it the most recent, and past the bound
    the least recently used entry is dropped (one, never all)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def pop(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)


@dataclass
class _CachedRecord:
    record: ClientRecord
    expires: float
    fresh_fetched: float = float("-inf")


def client_record_to_secret(record: ClientRecord) -> str:
    body: dict[str, Any] = {
        "clientId": record.client_id,
        "projectId": record.project_id,
        "type": record.client_type.value,
        "secretSalt": record.secret_salt,
        "secretHash": record.secret_hash,
        "createdAt": record.created_at,
        "origins": list(record.origins),
        "rate": record.rate,
        "burst": record.burst,
        "apiKey": record.api_key,
        "previousSecrets": [
            {"salt": previous.salt, "hash": previous.hash, "validUntil": previous.valid_until}
            for previous in record.previous_secrets
        ],
        "revokedAt": record.revoked_at,
    }
    return json.dumps(body)


def client_record_from_secret(secret_string: str) -> ClientRecord:
    body = json.loads(secret_string)
    return ClientRecord(
        client_id=body["clientId"],
        project_id=body["projectId"],
        client_type=ClientType(body["type"]),
        secret_salt=body["secretSalt"],
        secret_hash=body["secretHash"],
        created_at=body["createdAt"],
        origins=tuple(body.get("origins") or ()),
        rate=body.get("rate"),
        burst=body.get("burst"),
        api_key=body.get("apiKey") or "",
        previous_secrets=tuple(
            SecretHash(previous["salt"], previous["hash"], previous.get("validUntil"))
            for previous in body.get("previousSecrets") or ()
        ),
        revoked_at=body.get("revokedAt"),
    )


class SecretsManagerClientStore:
    def __init__(
        self,
        prefix: str,
        cache_seconds: float,
        client: SecretsManagerClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._prefix = prefix
        self._cache_seconds = cache_seconds
        self._client = client
        self._clock = clock
        self._records: LruCache[str, _CachedRecord] = LruCache(MAX_CACHED_CLIENTS)
        self._unknown: LruCache[str, float] = LruCache(MAX_CACHED_UNKNOWN)  # id → until when it is known missing

    @property
    def client(self) -> SecretsManagerClient:
        if self._client is None:
            self._client = secretsmanager_client()
        return self._client

    def secret_name(self, client_id: str) -> str:
        return f"{self._prefix}{client_id}"

    def knows(self, client_id: str) -> bool:
        """Whether this id was found before (its record is cached, perhaps past its time), or was found missing
        moments ago: either way, looking it up again costs at most one call per cache period."""
        if client_id in self._records:
            return True
        until = self._unknown.get(client_id)
        return until is not None and until > self._clock()

    def get_client(self, client_id: str, fresh: bool = False) -> ClientRecord | None:
        now = self._clock()
        cached = self._records.get(client_id)
        if cached is not None:
            if fresh:
                if now - cached.fresh_fetched < FRESH_LOOKUP_INTERVAL_SECONDS:
                    return cached.record  # refetched moments ago: wrong secrets cannot turn into a flood of calls
                cached.fresh_fetched = now
            elif cached.expires > now:
                return cached.record
        else:
            until = self._unknown.get(client_id)
            if until is not None and until > now:
                return None
        record = self._fetch(client_id)
        if record is None:
            self._records.pop(client_id)
            self._unknown.put(client_id, now + min(self._cache_seconds, NEGATIVE_CACHE_SECONDS))
        else:
            fetched = cached.fresh_fetched if cached is not None else float("-inf")
            self._records.put(client_id, _CachedRecord(record, now + self._cache_seconds, fetched))
            self._unknown.pop(client_id)
        return record

    def _fetch(self, client_id: str) -> ClientRecord | None:
        body = self._get_secret_string(self.secret_name(client_id))
        return None if body is None else client_record_from_secret(body)

    def _get_secret_string(self, name: str) -> str | None:
        try:
            response = self.client.get_secret_value(SecretId=name)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            # Anything else (throttling, access denied, KMS failure) fails closed: 503, never a 401 or a pass.
            raise unavailable("Secrets Manager", exc) from exc
        except TRANSPORT_ERRORS as exc:
            raise unavailable("Secrets Manager", exc) from exc
        return response["SecretString"]

    def put_client(self, record: ClientRecord) -> None:
        self.client.create_secret(
            Name=self.secret_name(record.client_id),
            SecretString=client_record_to_secret(record),
            Description=f"Beacon client of project {record.project_id}",
        )

    def update_client(self, record: ClientRecord) -> None:
        self.client.put_secret_value(
            SecretId=self.secret_name(record.client_id), SecretString=client_record_to_secret(record)
        )
        self._records.pop(record.client_id)

    def list_clients(self) -> list[ClientRecord]:
        names = [
            entry["Name"]
            for page in self.client.get_paginator("list_secrets").paginate(
                Filters=[{"Key": "name", "Values": [self._prefix]}]
            )
            for entry in page["SecretList"]
            if entry["Name"].startswith(self._prefix) and is_client_id(entry["Name"][len(self._prefix) :])
        ]
        records = [self._fetch(name[len(self._prefix) :]) for name in sorted(names)]
        return [record for record in records if record is not None]

    # -- the ids of clients made before signed ids ---------------------------------------------------------------
    def get_legacy_client_ids(self) -> frozenset[str] | None:
        """The recorded list; None when none was recorded yet."""
        body = self._get_secret_string(self.secret_name(LEGACY_IDS_NAME))
        return None if body is None else frozenset(json.loads(body)["clientIds"])

    def put_legacy_client_ids(self, client_ids: Iterable[str]) -> None:
        body = json.dumps({"clientIds": sorted(client_ids)}, separators=(",", ":"))
        name = self.secret_name(LEGACY_IDS_NAME)
        try:
            self.client.put_secret_value(SecretId=name, SecretString=body)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            self.client.create_secret(
                Name=name, SecretString=body, Description="Beacon: ids of clients made before signed client ids"
            )


def read_client_id_key(secret_id: str, client: SecretsManagerClient | None = None) -> bytes:
    """The key that signs the stack's client ids, read from its secret (`beacon clients create`, test stacks)."""
    return client_id_key(SecretsManagerStackSecret(secret_id, client)())


class IssuedClientLookup:
    """The authorizer's ClientLookup: the client store behind a gate that answers None (a 401) for an id Beacon did
    not issue, before any call. An id the store already knows goes straight to it."""

    def __init__(
        self,
        store: SecretsManagerClientStore,
        stack_secret: Callable[[], bytes],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._stack_secret = stack_secret  # read from Secrets Manager at first need, then kept (one call a container)
        self._clock = clock
        self._key: bytes | None = None
        self._legacy: frozenset[str] | None = None
        self._legacy_read_at = float("-inf")
        self._tokens = float(UNLISTED_LOOKUP_BURST)
        self._tokens_at: float | None = None
        self._lock = threading.Lock()

    def get_client(self, client_id: str, fresh: bool = False) -> ClientRecord | None:
        if not self._store.knows(client_id) and not self.issued(client_id):
            return None
        return self._store.get_client(client_id, fresh)

    def issued(self, client_id: str) -> bool:
        """A signed id whose MAC verifies; an older id on the legacy list (or, before the list exists, any within
        the lookup budget: past it, DependencyUnavailableError, as the id could not be checked)."""
        if is_signed_client_id(client_id):
            return client_id_signature_valid(client_id, self._id_key())
        with self._lock:
            return self._legacy_admits(client_id)

    def _id_key(self) -> bytes:
        if self._key is None:
            self._key = client_id_key(self._stack_secret())
        return self._key

    def _legacy_admits(self, client_id: str) -> bool:
        now = self._clock()
        listed = self._legacy is not None and client_id in self._legacy
        if not listed and now - self._legacy_read_at >= LEGACY_IDS_REFRESH_SECONDS:
            self._legacy_read_at = now  # before the read: a failing read is not retried on every request
            self._legacy = self._store.get_legacy_client_ids()
            listed = self._legacy is not None and client_id in self._legacy
        if self._legacy is not None:
            return listed
        return self._take_unlisted_lookup(now)

    def _take_unlisted_lookup(self, now: float) -> bool:
        elapsed = 0.0 if self._tokens_at is None else now - self._tokens_at
        self._tokens = min(float(UNLISTED_LOOKUP_BURST), self._tokens + elapsed * UNLISTED_LOOKUPS_PER_SECOND)
        self._tokens_at = now
        if self._tokens < 1:
            raise DependencyUnavailableError(
                "Too many lookups of client ids made before signed ids; record them with `beacon clients legacy-ids`"
            )
        self._tokens -= 1
        return True


def issued_client_lookup(
    prefix: str, cache_seconds: int, client_id_key_secret: str, client: SecretsManagerClient | None = None
) -> IssuedClientLookup:
    """The client records under `prefix` behind the gate that refuses ids Beacon never issued before any call: how
    the authorizer looks clients up, and the track function for credentials sent in the body (docs/DESIGN.md §50)."""
    records = SecretsManagerClientStore(prefix, cache_seconds, client)
    return IssuedClientLookup(records, SecretsManagerStackSecret(client_id_key_secret, client))
