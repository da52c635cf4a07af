"""boto3 clients, created lazily once per container and reused while warm.

Endpoints come from the standard AWS_ENDPOINT_URL_<SERVICE> variables (the local stack sets them);
timeouts are explicit and well under the functions' 10 s timeout.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from beacon.errors import DependencyUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

# Worst case per call: 2 attempts x (1 s connect + 2 s read) + backoff (< 1 s) ≈ 7 s, inside the 10 s
# function timeout, so a stuck dependency ends in our 503 rather than in Lambda killing the function.
CLIENT_CONFIG = Config(
    connect_timeout=1,
    read_timeout=2,
    retries={"max_attempts": 1, "mode": "standard"},  # botocore: retries after the first attempt
)

# Error codes that mean "the dependency cannot serve us right now": retry later.
UNAVAILABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalServiceError",
        "InternalFailure",
        "ServiceUnavailable",
        "LimitExceededException",
    }
)


_session_lock = threading.Lock()


@cache
def _session() -> Any:
    from botocore.session import get_session  # imported lazily: cold start pays for it only where a client is needed

    return get_session()


def _boto3_client(service: str) -> Any:
    """A client of the container's one botocore session: a second client reuses the endpoint rules, partitions
    and models the first one loaded, instead of a new session loading them again (a cold start creates up to
    two). Sessions are not thread-safe, hence the lock; clients are."""
    with _session_lock:
        return _session().create_client(service, config=CLIENT_CONFIG)


@cache
def dynamodb_client() -> DynamoDBClient:
    client: DynamoDBClient = _boto3_client("dynamodb")
    return client


@cache
def secretsmanager_client() -> SecretsManagerClient:
    client: SecretsManagerClient = _boto3_client("secretsmanager")
    return client


@cache
def lambda_client() -> Any:
    """The privacy function's hand-off of an erasure to itself (beacon/store/invoke.py); typed Any, as S3's."""
    return _boto3_client("lambda")


@cache
def s3_client() -> Any:
    """Session replay's chunks (beacon/store/replays.py); typed Any: the S3 stubs are not a dependency."""
    return _boto3_client("s3")


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def unavailable(service: str, exc: Exception) -> DependencyUnavailableError:
    """The domain error for a dependency that is down, throttling or unreachable."""
    reason = error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
    return DependencyUnavailableError(f"{service} is unavailable ({reason}); retry later")


TRANSPORT_ERRORS = (BotocoreConnectionError, HTTPClientError)
