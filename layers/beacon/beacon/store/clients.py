"""Client records in Secrets Manager: one secret per client under a stack-scoped prefix.

Lookups are cached in memory per container (positive results for CLIENT_CACHE_SECONDS, unknown ids
for a few seconds so a flood of random ids cannot turn into a flood of Secrets Manager calls).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from beacon.domain.auth import ClientRecord, SecretHash
from beacon.domain.entities import ClientType
from beacon.store.aws import TRANSPORT_ERRORS, error_code, secretsmanager_client, unavailable

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

NEGATIVE_CACHE_SECONDS = 5.0
# A secret that does not match the cached record refetches it (it may have just been rotated), at most this often.
FRESH_LOOKUP_INTERVAL_SECONDS = 5.0
MAX_CACHED_CLIENTS = 10_000


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
        self._cache: dict[str, tuple[float, ClientRecord | None]] = {}
        self._fresh_fetched: dict[str, float] = {}

    @property
    def client(self) -> SecretsManagerClient:
        if self._client is None:
            self._client = secretsmanager_client()
        return self._client

    def secret_name(self, client_id: str) -> str:
        return f"{self._prefix}{client_id}"

    def get_client(self, client_id: str, fresh: bool = False) -> ClientRecord | None:
        now = self._clock()
        cached = self._cache.get(client_id)
        if fresh and cached is not None:
            if now - self._fresh_fetched.get(client_id, float("-inf")) < FRESH_LOOKUP_INTERVAL_SECONDS:
                return cached[1]  # refetched moments ago: wrong secrets cannot turn into a flood of calls
            self._fresh_fetched[client_id] = now
        elif cached is not None and cached[0] > now:
            return cached[1]
        record = self._fetch(client_id)
        ttl = self._cache_seconds if record is not None else min(self._cache_seconds, NEGATIVE_CACHE_SECONDS)
        if len(self._cache) >= MAX_CACHED_CLIENTS:
            self._cache.clear()
            self._fresh_fetched.clear()
        self._cache[client_id] = (now + ttl, record)
        return record

    def _fetch(self, client_id: str) -> ClientRecord | None:
        try:
            response = self.client.get_secret_value(SecretId=self.secret_name(client_id))
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            # Anything else (throttling, access denied, KMS failure) fails closed: 503, never a 401 or a pass.
            raise unavailable("Secrets Manager", exc) from exc
        except TRANSPORT_ERRORS as exc:
            raise unavailable("Secrets Manager", exc) from exc
        return client_record_from_secret(response["SecretString"])

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
        self._cache.pop(record.client_id, None)

    def list_clients(self) -> list[ClientRecord]:
        names = [
            entry["Name"]
            for page in self.client.get_paginator("list_secrets").paginate(
                Filters=[{"Key": "name", "Values": [self._prefix]}]
            )
            for entry in page["SecretList"]
            if entry["Name"].startswith(self._prefix)
        ]
        records = [self._fetch(name[len(self._prefix) :]) for name in sorted(names)]
        return [record for record in records if record is not None]
