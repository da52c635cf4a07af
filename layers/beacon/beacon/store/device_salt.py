"""The per-stack secret behind the daily device-id salt, read from Secrets Manager once per container."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from beacon.store.aws import TRANSPORT_ERRORS, secretsmanager_client, unavailable

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


class SecretsManagerStackSecret:
    def __init__(self, secret_id: str, client: SecretsManagerClient | None = None) -> None:
        self._secret_id = secret_id
        self._client = client
        self._value: bytes | None = None
        self._lock = threading.Lock()

    def __call__(self) -> bytes:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._fetch()
        return self._value

    def _fetch(self) -> bytes:
        client = self._client or secretsmanager_client()
        try:
            response = client.get_secret_value(SecretId=self._secret_id)
        except (ClientError, *TRANSPORT_ERRORS) as exc:
            # Without the salt no device id can be derived: the request fails with 503, nothing written.
            raise unavailable("Secrets Manager", exc) from exc
        return response["SecretString"].encode()
