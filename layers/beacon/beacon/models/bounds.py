"""Properties cut to the bounds that keep an event inside one DynamoDB item, instead of refusing the event.

OpenPanel stores an event whatever its properties hold; Beacon keeps its bounds (docs/API.md, Property bounds) but
applies them by cutting, deterministically, in document order:
- a string longer than MAX_STRING_LENGTH is cut to its first MAX_STRING_LENGTH characters;
- a list longer than MAX_LIST_LENGTH keeps its first MAX_LIST_LENGTH items;
- a container (object or list) deeper than MAX_PROPERTY_DEPTH is dropped;
- keys beyond the first MAX_PROPERTY_KEYS (counted across nested objects, depth first) are dropped;
- a key that is empty or longer than MAX_KEY_LENGTH is dropped;
- a number DynamoDB cannot hold (not finite, beyond ±1e125, below 1e-130, over 38 significant digits) is dropped.
Each cut is recorded as a dot path (list items by index) in `__truncated`, which a client cannot set itself.
Pure Python: the request models call it while parsing, and the track function reads the paths back for its metric.
"""

from __future__ import annotations

import math
from typing import Any

MAX_PROPERTY_DEPTH = 5
MAX_PROPERTY_KEYS = 200
MAX_KEY_LENGTH = 200
MAX_STRING_LENGTH = 4_000
MAX_LIST_LENGTH = 200
# DynamoDB numbers: up to 38 significant digits, magnitude within 1e-130 .. 1e126.
MAX_NUMBER_MAGNITUDE = 1e125
MIN_NUMBER_MAGNITUDE = 1e-130
MAX_NUMBER_DIGITS = 38

TRUNCATED_PROPERTY = "__truncated"
MAX_TRUNCATED_PATHS = 50  # the record of cuts is itself bounded: the first 50 paths, each at most 300 characters
MAX_PATH_LENGTH = 300


class _Cuts:
    __slots__ = ("keys", "paths")

    def __init__(self) -> None:
        self.keys = 0
        self.paths: list[str] = []

    def record(self, path: str) -> None:
        if len(self.paths) < MAX_TRUNCATED_PATHS:
            self.paths.append(path[:MAX_PATH_LENGTH])


def _join(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def _storable_number(value: int | float) -> bool:
    if isinstance(value, int):
        return len(str(abs(value)).rstrip("0")) <= MAX_NUMBER_DIGITS and abs(value) <= MAX_NUMBER_MAGNITUDE
    if not math.isfinite(value):
        return False
    return value == 0 or MIN_NUMBER_MAGNITUDE <= abs(value) <= MAX_NUMBER_MAGNITUDE


_DROP = object()


def _bounded(value: Any, depth: int, path: str, cuts: _Cuts) -> Any:
    """The value within bounds, or _DROP. `depth` counts containers: the properties object itself is level 1."""
    if isinstance(value, dict):
        if depth > MAX_PROPERTY_DEPTH:
            cuts.record(path)
            return _DROP
        kept: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
                cuts.record(_join(path, str(key)[:MAX_KEY_LENGTH]))
                continue
            if cuts.keys >= MAX_PROPERTY_KEYS:
                cuts.record(_join(path, key))
                continue
            cuts.keys += 1
            bounded = _bounded(item, depth + 1, _join(path, key), cuts)
            if bounded is not _DROP:
                kept[key] = bounded
        return kept
    if isinstance(value, list):
        if depth > MAX_PROPERTY_DEPTH:
            cuts.record(path)
            return _DROP
        if len(value) > MAX_LIST_LENGTH:
            cuts.record(path)
        items = []
        for index, item in enumerate(value[:MAX_LIST_LENGTH]):
            bounded = _bounded(item, depth + 1, _join(path, str(index)), cuts)
            if bounded is not _DROP:
                items.append(bounded)
        return items
    if isinstance(value, str):
        if len(value) > MAX_STRING_LENGTH:
            cuts.record(path)
            return value[:MAX_STRING_LENGTH]
        return value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        if _storable_number(value):
            return value
        cuts.record(path)
        return _DROP
    return value  # anything else JSON cannot carry is for the model's own validation


_SAFE_INT = 10**MAX_NUMBER_DIGITS  # an int below this in magnitude has at most 38 digits, far under 1e125


def _leaf_within(value: Any) -> bool:
    """Whether a non-container value needs no cut. Exact types first: what json.loads gives, cheaply."""
    kind = type(value)
    if kind is str:
        return len(value) <= MAX_STRING_LENGTH
    if kind is bool or value is None:
        return True
    if kind is int:
        return -_SAFE_INT < value < _SAFE_INT or _storable_number(value)
    if kind is float:
        return _storable_number(value)
    if isinstance(value, str):
        return len(value) <= MAX_STRING_LENGTH
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _storable_number(value)
    return True


def _within(value: Any, depth: int, keys: list[int]) -> bool:
    """Whether nothing under `value` needs cutting: the walk most events take, building nothing. Leaves are checked
    in the loop rather than by a call each (most properties are flat strings); it answers as `_bounded` cuts."""
    if isinstance(value, dict):
        if depth > MAX_PROPERTY_DEPTH:
            return False
        count = keys[0] + len(value)
        if count > MAX_PROPERTY_KEYS:
            return False
        keys[0] = count
        for key, item in value.items():
            if type(key) is not str or not key or len(key) > MAX_KEY_LENGTH:
                return False
            kind = type(item)
            if kind is str:
                if len(item) > MAX_STRING_LENGTH:
                    return False
            elif kind is dict or kind is list or isinstance(item, (dict, list)):
                if not _within(item, depth + 1, keys):
                    return False
            elif not _leaf_within(item):
                return False
        return True
    if isinstance(value, list):
        if depth > MAX_PROPERTY_DEPTH or len(value) > MAX_LIST_LENGTH:
            return False
        for item in value:
            if type(item) is dict or type(item) is list or isinstance(item, (dict, list)):
                if not _within(item, depth + 1, keys):
                    return False
            elif not _leaf_within(item):
                return False
        return True
    return _leaf_within(value)


def _over_tighter_bound(properties: dict[str, Any], cut_strings: dict[str, int]) -> bool:
    for key in properties.keys() & cut_strings.keys():
        value = properties[key]
        if isinstance(value, str) and len(value) > cut_strings[key]:
            return True
    return False


def bound_properties(properties: dict[str, Any], cut_strings: dict[str, int] | None = None) -> dict[str, Any]:
    """The properties cut to the bounds, with the cut paths in `__truncated` when anything was cut; a client's own
    `__truncated` is dropped. `cut_strings` gives top-level keys a tighter string bound (the user-agent overrides)."""
    if TRUNCATED_PROPERTY in properties:
        properties = {key: value for key, value in properties.items() if key != TRUNCATED_PROPERTY}
    if _within(properties, 1, [0]) and not (cut_strings and _over_tighter_bound(properties, cut_strings)):
        return properties  # most events: nothing to cut, nothing rebuilt
    cuts = _Cuts()
    bounded: dict[str, Any] = _bounded(properties, 1, "", cuts)
    for key, limit in (cut_strings or {}).items():
        value = bounded.get(key)
        if isinstance(value, str) and len(value) > limit:
            bounded[key] = value[:limit]
            cuts.record(key)
    if cuts.paths:
        bounded[TRUNCATED_PROPERTY] = cuts.paths
    return bounded


def truncated_paths(properties: Any) -> list[str]:
    """The paths `bound_properties` cut from these (already bounded) properties; empty when nothing was."""
    paths = properties.get(TRUNCATED_PROPERTY) if isinstance(properties, dict) else None
    return list(paths) if isinstance(paths, list) else []
