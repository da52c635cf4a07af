"""What DynamoDB calls consume, as DynamoDB Local reports it: one client's calls ask for `ReturnConsumedCapacity`
and their units are added up (reads: GetItem, Query, BatchGetItem; every other call's units are writes). Used by
the write-cost tests (tests/integration/test_write_costs.py) and the benchmarks that quote units (bench/)."""

from __future__ import annotations

from typing import Any

READ_OPERATIONS = frozenset({"GetItem", "Query", "BatchGetItem"})


class CapacityRecorder:
    """Asks DynamoDB for ConsumedCapacity on every call of one client and adds it up."""

    def __init__(self, client: Any) -> None:
        self.read = 0.0
        self.write = 0.0
        self.requests = 0
        client.meta.events.register("provide-client-params.dynamodb.*", self._ask)
        client.meta.events.register("after-call.dynamodb.*", self._add)

    def _ask(self, params: dict[str, Any], **_: Any) -> None:
        params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def _add(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        self.requests += 1
        consumed = parsed.get("ConsumedCapacity") or []
        for entry in consumed if isinstance(consumed, list) else [consumed]:
            units = float(entry.get("CapacityUnits", 0))
            if model.name in READ_OPERATIONS:
                self.read += units
            else:
                self.write += units

    def take(self) -> tuple[float, float]:
        """(read units, write units) since the last take; the request count starts again too."""
        result = (self.read, self.write)
        self.read = self.write = 0.0
        self.requests = 0
        return result
