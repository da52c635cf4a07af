"""Lambda's asynchronous invoke: how the privacy function hands a started erasure on to a run of its own.

`Invoke` with InvocationType `Event` queues the payload and answers 202 at once; Lambda then runs the function
with it, and runs it again (twice at most) when that run fails or times out. Every run resumes from the receipt's
last checkpoint (beacon/domain/erasure.py), so a retry completes rather than repeats. The endpoint is the standard
AWS_ENDPOINT_URL_LAMBDA when set (locally: local/lambda_invoke.py).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from beacon.store.aws import TRANSPORT_ERRORS, lambda_client, unavailable


class LambdaAsyncInvoker:
    def __init__(self, function_name: str, client: Any | None = None) -> None:
        self._function_name = function_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = lambda_client()
        return self._client

    def hand_on(self, payload: dict[str, Any]) -> None:
        try:
            self.client.invoke(
                FunctionName=self._function_name, InvocationType="Event", Payload=json.dumps(payload).encode()
            )
        except (ClientError, *TRANSPORT_ERRORS) as exc:
            raise unavailable("Lambda", exc) from exc
