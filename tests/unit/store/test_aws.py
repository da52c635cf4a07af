"""The stores' AWS calls: each gives up inside the function's timeout, and a throttled transaction is a
dependency error (a 503 the client may retry), not a crash."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from beacon.errors import DependencyUnavailableError
from beacon.store.aws import CLIENT_CONFIG
from beacon.store.dynamodb import translate_errors


def test_throttled_transactions_are_dependency_errors() -> None:
    error = ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
            "CancellationReasons": [{"Code": "ThrottlingError"}, {"Code": "None"}],
        },
        "TransactWriteItems",
    )
    with pytest.raises(DependencyUnavailableError), translate_errors():
        raise error


def test_every_aws_call_gives_up_inside_the_function_timeout() -> None:
    config: Any = CLIENT_CONFIG  # botocore declares Config's options dynamically
    # botocore rewrites the retries dict in place when it builds a client (max_attempts → total_max_attempts)
    attempts = config.retries.get("total_max_attempts") or 1 + config.retries["max_attempts"]
    assert attempts * (config.connect_timeout + config.read_timeout) + 1 < 10  # function timeout: 10 s
