"""Project settings in the entities table (pk "<project>#settings"): the project's filters and its
`allowUnsafeRevenueTracking` switch.

Read on every request, so cached per container for a minute: a filter change takes effect within
SETTINGS_CACHE_SECONDS on warm containers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from beacon.domain.filters import ProjectFilters
from beacon.store.dynamodb import DynamoDBRepository, translate_errors

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SETTINGS_CACHE_SECONDS = 60.0


def settings_key(project_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"{project_id}#settings"}}


class DynamoDBProjectSettingsStore(DynamoDBRepository):
    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        cache_seconds: float = SETTINGS_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(table_name, client)
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, ProjectFilters]] = {}
        self._lock = threading.Lock()

    def get_filters(self, project_id: str) -> ProjectFilters:
        now = self._clock()
        cached = self._cache.get(project_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        with translate_errors():
            item = self.client.get_item(
                TableName=self._table,
                Key=settings_key(project_id),
                ProjectionExpression="blockedIps, blockedProfileIds, allowUnsafeRevenueTracking",
            ).get("Item", {})
        filters = ProjectFilters.parse(
            list(item.get("blockedIps", {}).get("SS", [])),
            list(item.get("blockedProfileIds", {}).get("SS", [])),
            item.get("allowUnsafeRevenueTracking", {}).get("BOOL", False),
        )
        with self._lock:
            self._cache[project_id] = (now + self._cache_seconds, filters)
        return filters

    def change_filters(
        self,
        project_id: str,
        block_ips: Sequence[str] = (),
        unblock_ips: Sequence[str] = (),
        block_profiles: Sequence[str] = (),
        unblock_profiles: Sequence[str] = (),
    ) -> ProjectFilters:
        """Add and remove entries (string sets: idempotent); returns the filters as stored now."""
        for attribute, action, values in (
            ("blockedIps", "ADD", block_ips),
            ("blockedIps", "DELETE", unblock_ips),
            ("blockedProfileIds", "ADD", block_profiles),
            ("blockedProfileIds", "DELETE", unblock_profiles),
        ):
            if values:
                with translate_errors():
                    self.client.update_item(
                        TableName=self._table,
                        Key=settings_key(project_id),
                        UpdateExpression=f"SET kind = :kind, projectId = :project {action} #a :values",
                        ExpressionAttributeNames={"#a": attribute},
                        ExpressionAttributeValues={
                            ":kind": {"S": "settings"},
                            ":project": {"S": project_id},
                            ":values": {"SS": sorted(set(values))},
                        },
                    )
        self._cache.pop(project_id, None)
        return self.get_filters(project_id)

    def set_unsafe_revenue_tracking(self, project_id: str, allow: bool) -> ProjectFilters:
        """Let requests without the client secret send `__revenue` (OpenPanel's `allowUnsafeRevenueTracking`)."""
        with translate_errors():
            self.client.update_item(
                TableName=self._table,
                Key=settings_key(project_id),
                UpdateExpression="SET kind = :kind, projectId = :project, allowUnsafeRevenueTracking = :allow",
                ExpressionAttributeValues={
                    ":kind": {"S": "settings"},
                    ":project": {"S": project_id},
                    ":allow": {"BOOL": allow},
                },
            )
        self._cache.pop(project_id, None)
        return self.get_filters(project_id)
