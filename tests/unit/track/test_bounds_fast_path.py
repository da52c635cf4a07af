"""The fast check that most events take (`_within`) must agree with the full cut (`_bounded`): properties it lets
through unchanged are exactly those the cut leaves unchanged. A disagreement either stores an over-bound value
(DynamoDB refuses the item: a 5xx) or rebuilds properties that needed nothing."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beacon.models.bounds import (
    MAX_LIST_LENGTH,
    MAX_PROPERTY_KEYS,
    MAX_STRING_LENGTH,
    TRUNCATED_PROPERTY,
    _bounded,
    _Cuts,
    _within,
)

# Leaves at DynamoDB's and Beacon's edges, each on both sides.
EDGE_LEAVES = [
    10**38 - 1,
    10**38,
    -(10**38),
    123456789012345678901234567890123456789,
    12 * 10**100,
    10**125,
    10**126,
    1e125,
    1.0000001e125,
    1e-130,
    1e-131,
    -1e-131,
    0.0,
    float("nan"),
    float("inf"),
    -float("inf"),
    "x" * MAX_STRING_LENGTH,
    "x" * (MAX_STRING_LENGTH + 1),
    True,
    None,
]
PLAIN_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5))
LEAVES = st.one_of(PLAIN_LEAVES, PLAIN_LEAVES, PLAIN_LEAVES, st.sampled_from(EDGE_LEAVES))
VALID_KEYS = st.text(alphabet="abcdef_", min_size=1, max_size=3)
KEYS = st.one_of(VALID_KEYS, VALID_KEYS, VALID_KEYS, st.sampled_from(["", "k" * 200, "k" * 201]))
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=20,
)


def unchanged_by_cut(properties: dict[str, Any]) -> bool:
    """The full cut, on its own (bound_properties would take the fast path first): nothing cut, nothing changed."""
    cuts = _Cuts()
    return _bounded(properties, 1, "", cuts) == properties and not cuts.paths


@settings(max_examples=1000, deadline=None)
@given(st.dictionaries(KEYS.filter(lambda key: key != TRUNCATED_PROPERTY), VALUES, max_size=6))
def test_the_fast_check_passes_exactly_what_the_cut_leaves_alone(properties: dict[str, Any]) -> None:
    assert _within(properties, 1, [0]) == unchanged_by_cut(properties)


@pytest.mark.parametrize("leaf", EDGE_LEAVES, ids=repr)
@pytest.mark.parametrize("place", ["top", "in an object", "in a list"])
def test_the_fast_check_agrees_with_the_cut_on_every_edge_value(leaf: Any, place: str) -> None:
    properties = {"top": {"a": leaf}, "in an object": {"o": {"a": leaf}}, "in a list": {"l": [1, leaf]}}[place]
    assert _within(properties, 1, [0]) == unchanged_by_cut(properties)


def test_the_fast_check_counts_keys_across_nested_objects() -> None:
    # Given the key bound reached exactly across two levels, then passed by one
    at_bound = {"outer": {f"k{i}": i for i in range(MAX_PROPERTY_KEYS - 1)}}
    over = {**at_bound, "one_more": 1}

    # Then the first needs no cut and the second does, as the cut itself decides
    assert _within(at_bound, 1, [0]) and unchanged_by_cut(at_bound)
    assert not _within(over, 1, [0]) and not unchanged_by_cut(over)


def test_the_fast_check_sees_a_long_list_and_a_deep_object() -> None:
    deep: dict[str, Any] = {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}
    assert not _within({"list": list(range(MAX_LIST_LENGTH + 1))}, 1, [0])
    assert not _within(deep, 1, [0]) and not unchanged_by_cut(deep)
