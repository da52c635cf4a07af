"""What an attacker or a broken client may send: hypothesis strategies for request bodies and header values."""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

from beacon.models.requests import REQUEST_TYPES


def examples(base: int) -> int:
    """`base` examples under the default profile (max_examples 100), proportionally more under soak."""
    current = settings.default
    assert current is not None
    return max(1, base * current.max_examples // 100)


# -- text ---------------------------------------------------------------------------------------------
EDGE_CHARACTERS = [
    "\x00",  # NUL
    "\u202e",  # right-to-left override
    "\u200f",  # right-to-left mark
    "\u2066",  # left-to-right isolate
    "\ufeff",  # byte order mark
    "\u0301",  # combining accent with no base
    "\u2028",  # line separator
    "\r",
    "\n",
    "\x7f",
    "\ud800",  # lone high surrogate
    "\udfff",  # lone low surrogate
    "\uffff",
    "\U0010ffff",
    "\U0001f600",
    "%",
    "\\",
    '"',
]
characters = st.one_of(st.characters(), st.sampled_from(EDGE_CHARACTERS))
texts = st.text(alphabet=characters, max_size=40)
# Header values come from HTTP bytes that API Gateway decodes: they cannot hold a lone surrogate (one in a
# header value makes the device-id and secret hashes raise UnicodeEncodeError: reported, not fuzzed here).
HEADER_EDGE_CHARACTERS = [character for character in EDGE_CHARACTERS if not "\ud800" <= character <= "\udfff"]
header_characters = st.one_of(st.characters(codec="utf-8"), st.sampled_from(HEADER_EDGE_CHARACTERS))
header_texts = st.text(alphabet=header_characters, max_size=40)
# What a header value carrying an injection attempt may look like (API Gateway passes header values as text).
HEADER_INJECTIONS = [
    "x\r\nSet-Cookie: session=stolen",
    "x\nX-Injected: 1",
    "x\r\n\r\n<html>",
    "\x00",
    "x\x00y",
    "${jndi:ldap://127.0.0.1/a}",
    "' OR '1'='1",
    "../../../../etc/passwd",
    "%0d%0aSet-Cookie:%20a=b",
]
header_values = st.one_of(
    st.sampled_from(HEADER_INJECTIONS),
    st.text(alphabet=header_characters, max_size=60),
    st.integers(min_value=1, max_value=20_000).map(lambda size: "A" * size),
)


# -- JSON ---------------------------------------------------------------------------------------------
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**200), max_value=10**200),  # past DynamoDB's 38 digits and 1e125
    st.floats(allow_nan=True, allow_infinity=True),  # json.dumps writes NaN / Infinity literals
    texts,
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(texts, children, max_size=5),
    max_leaves=25,
)
# Event times and sentAt stay within 1900-2100: a __timestamp at the edge of Python's datetime range (year 1 or
# 9999, with an offset), or a clock-skew correction that lands outside it, raises OverflowError (a 5xx,
# reported); inside the range every value is fuzzed.
moments = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.one_of(st.none(), st.timezones())
)
RESERVED_PROPERTIES = [
    "__timestamp",
    "__id",
    "__ip",
    "__deviceId",
    "__identify",
    "__revenue",
    "__os",
    "__osVersion",
    "__browser",
    "__browserVersion",
    "__device",
    "__brand",
    "__model",
    "projectId",
    "__projectId",
    "clientId",
]
reserved_values = st.one_of(
    json_values,
    st.ip_addresses().map(str),
    moments.map(lambda moment: moment.isoformat()),
    st.fixed_dictionaries({}, optional={"profileId": json_values, "email": texts, "properties": json_values}),
)
properties = st.dictionaries(st.one_of(texts, st.sampled_from(RESERVED_PROPERTIES)), reserved_values, max_size=8)
payloads = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(texts, json_values, st.sampled_from(["page_view", "session_start", "session_end"])),
        "properties": st.one_of(properties, json_values),
        "profileId": st.one_of(texts, st.integers(), json_values),
        "groups": st.one_of(st.lists(texts, max_size=4), json_values),
        "alias": st.one_of(texts, st.integers()),
        "property": st.one_of(texts, st.sampled_from(["visits", "a.b.c", "a..b", ".", "a.b.c.d.e.f"])),
        "value": st.one_of(json_scalars, st.floats()),
        "id": texts,
        "type": texts,
        "groupIds": st.one_of(st.lists(texts, max_size=4), json_values),
        "firstName": texts,
        "email": st.one_of(texts, st.emails()),
        "avatar": texts,
    },
)
track_requests = st.fixed_dictionaries(
    {"type": st.one_of(st.sampled_from(sorted(REQUEST_TYPES)), texts), "payload": st.one_of(payloads, json_values)},
    optional={"projectId": texts, "clientId": texts},
)
# Requests of the right shape with hostile values inside: these get past validation and reach the stores.
names = st.text(alphabet=characters, min_size=1, max_size=80)
ids = st.one_of(st.text(alphabet=characters, min_size=1, max_size=64), st.integers(min_value=0))
plain_properties = st.dictionaries(
    st.text(alphabet=characters, min_size=1, max_size=30),
    st.one_of(st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.floats(-1e100, 1e100), texts),
    max_size=6,
)
plausible_requests = st.one_of(
    st.builds(
        lambda name, props, reserved, profile: {
            "type": "track",
            "payload": {"name": name, "properties": {**props, **reserved}, **profile},
        },
        names,
        plain_properties,
        st.dictionaries(st.sampled_from(RESERVED_PROPERTIES), reserved_values, max_size=3),
        st.fixed_dictionaries({}, optional={"profileId": ids, "groups": st.lists(names, max_size=3)}),
    ),
    st.builds(
        lambda profile, props: {"type": "identify", "payload": {"profileId": profile, "properties": props}},
        ids,
        plain_properties,
    ),
    st.builds(lambda profile, alias: {"type": "alias", "payload": {"profileId": profile, "alias": alias}}, ids, ids),
    st.builds(
        lambda kind, profile, path, value: {
            "type": kind,
            "payload": {"profileId": profile, "property": path, "value": value},
        },
        st.sampled_from(["increment", "decrement"]),
        ids,
        st.sampled_from(["visits", "stats.visits", "a.b.c.d.e", "a"]),
        st.one_of(st.integers(1, 10**6), st.floats(min_value=1e-10, max_value=1e6)),
    ),
    st.builds(
        lambda group, kind, name, props: {
            "type": "group",
            "payload": {"id": group, "type": kind, "name": name, "properties": props},
        },
        names,
        names,
        names,
        plain_properties,
    ),
    st.builds(
        lambda groups, profile: {"type": "assign_group", "payload": {"groupIds": groups, **profile}},
        st.lists(names, min_size=1, max_size=3),
        st.fixed_dictionaries({}, optional={"profileId": ids}),
    ),
)
batch_requests = st.fixed_dictionaries(
    {"batch": st.one_of(st.lists(st.one_of(plausible_requests, track_requests, json_values), max_size=6), json_values)},
    optional={"sentAt": st.one_of(texts, json_values)},
)


@st.composite
def json_bytes(draw: st.DrawFn, documents: st.SearchStrategy[Any]) -> bytes:
    """A document as JSON bytes: ASCII-escaped, or raw UTF-8 (lone surrogates then make invalid UTF-8)."""
    document = draw(documents)
    if draw(st.booleans()):
        return json.dumps(document).encode()
    return json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _nest(depth: int, opening: str, closing: str, inner: str = "1") -> str:
    return opening * depth + inner + closing * depth


deep_nesting = st.integers(min_value=1, max_value=5_000).flatmap(
    lambda depth: st.sampled_from(
        [
            _nest(depth, "[", "]", ""),
            _nest(depth, '{"a":', "}"),
            '{"type":"track","payload":{"name":"deep","properties":{"p":' + _nest(depth, "[", "]", "") + "}}}",
            '{"type":"track","payload":{"name":"deep","properties":' + _nest(depth, '{"a":', "}") + "}}",
        ]
    )
)
NUMBER_LITERALS = ["NaN", "-NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e-999", "-0", "0e0", "1E400"]
huge_numbers = st.one_of(
    st.sampled_from(NUMBER_LITERALS),
    st.integers(min_value=1, max_value=5_000).map(lambda digits: "9" * digits),
    st.integers(min_value=-400, max_value=400).map(lambda exponent: f"1.5e{exponent}"),
).map(lambda number: '{"type":"track","payload":{"name":"n","properties":{"v":' + number + '},"profileId":1}}')
oversized_strings = st.integers(min_value=1_000, max_value=70_000).flatmap(
    lambda size: st.sampled_from(
        [
            json.dumps({"type": "track", "payload": {"name": "x" * size}}),
            json.dumps({"type": "track", "payload": {"name": "big", "properties": {"s": "x" * size}}}),
            json.dumps({"type": "identify", "payload": {"profileId": "p" * size}}),
        ]
    )
)
text_bodies = st.one_of(deep_nesting, huge_numbers, oversized_strings).map(str.encode)
# Properties past every bound at once (long strings and keys, long lists, deep nesting, many keys, numbers DynamoDB
# cannot hold): Beacon stores them cut, never refuses them (models/bounds.py).
_oversized_leaves = st.one_of(
    json_scalars,
    st.integers(min_value=3_990, max_value=4_100).map(lambda size: "é" * size),
    st.sampled_from([10**130, -(10**40) - 1, 1e-200, float("nan"), float("inf")]),
)
oversized_properties = st.recursive(
    _oversized_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=210),
        st.dictionaries(st.one_of(texts, st.text(min_size=195, max_size=210)), children, max_size=210),
    ),
    max_leaves=600,
).map(lambda value: value if isinstance(value, dict) else {"v": value})


def track_bodies() -> st.SearchStrategy[bytes]:
    return st.one_of(
        json_bytes(hostile_items),
        json_bytes(plausible_requests),
        json_bytes(plausible_requests),
        json_bytes(track_requests),
        json_bytes(json_values),
        text_bodies,
        st.binary(max_size=200),
    )


plausible_batches = st.fixed_dictionaries(
    {"batch": st.lists(plausible_requests, min_size=1, max_size=6)},
    optional={"sentAt": moments.map(lambda moment: moment.isoformat())},
)


def batch_bodies() -> st.SearchStrategy[bytes]:
    return st.one_of(
        json_bytes(hostile_batches),
        json_bytes(plausible_batches),
        json_bytes(plausible_batches),
        json_bytes(batch_requests),
        json_bytes(json_values),
        text_bodies,
        st.binary(max_size=200),
    )


# -- content encodings ----------------------------------------------------------------------------------
ZIP_BOMB = gzip.compress(b"\0" * (8 * 1024 * 1024))  # 8 MB of zeros in about 8 KB


@dataclass(frozen=True)
class Encoded:
    body: bytes
    content_encoding: str | None


@st.composite
def encodings(draw: st.DrawFn, body: bytes) -> Encoded:
    # Mostly bodies the function can read, so that fuzzed content gets past decoding into validation and ingestion.
    kind = draw(
        st.sampled_from(["identity"] * 4 + ["gzip"] * 2 + ["truncated-gzip", "gzip-garbage", "zip-bomb", "unknown"])
    )
    if kind == "identity":
        return Encoded(body, draw(st.sampled_from([None, "", "identity", " IDENTITY "])))
    if kind == "gzip":
        return Encoded(gzip.compress(body), draw(st.sampled_from(["gzip", "GZIP", " gzip "])))
    if kind == "truncated-gzip":
        compressed = gzip.compress(body)
        return Encoded(compressed[: draw(st.integers(min_value=0, max_value=len(compressed) - 1))], "gzip")
    if kind == "gzip-garbage":
        return Encoded(b"\x1f\x8b" + draw(st.binary(max_size=100)), "gzip")
    if kind == "zip-bomb":
        return Encoded(ZIP_BOMB, "gzip")
    return Encoded(body, draw(st.one_of(st.sampled_from(["deflate", "br", "gzip, gzip", "x-gzip"]), header_values)))


CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-16",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "",
]
content_types = st.one_of(st.sampled_from(CONTENT_TYPES), header_values)


def as_proxy_body(data: bytes, as_base64: bool) -> tuple[str, bool]:
    """How API Gateway hands a body to the function: base64 (binary media types, the deployed API's `*/*`)
    or, for text, the body decoded as UTF-8 (invalid bytes replaced, as the local gateway does)."""
    if as_base64:
        return base64.b64encode(data).decode(), True
    return data.decode("utf-8", errors="replace"), False


# -- hostile batch items: what broke batches and the reads after them (issue 15) -----------------------------
LONE_SURROGATES = st.sampled_from(["\ud800", "\udfff", "a\udbffb", "\ud83d"])
EXTREME_TIMES = st.sampled_from(
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "0999-06-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "1999-12-31T23:59:59.999Z",
        "9999-12-31T23:59:59-01:00",
        "9999-12-31T23:59:59Z",
    ]
)
hostile_items = st.one_of(
    st.builds(
        lambda key, value: {"type": "track", "payload": {"name": "s", "properties": {key: value}}},
        st.one_of(LONE_SURROGATES, texts),
        st.one_of(LONE_SURROGATES, texts),
    ),
    st.builds(
        lambda moment: {"type": "track", "payload": {"name": "t", "properties": {"__timestamp": moment}}}, EXTREME_TIMES
    ),
    st.builds(
        lambda moment, text: {
            "type": "track",
            "payload": {
                "name": "i",
                "properties": {"__timestamp": moment, "__identify": {"profileId": "u1", "properties": {text: text}}},
            },
        },
        EXTREME_TIMES,
        LONE_SURROGATES,
    ),
    st.builds(
        lambda text: {"type": "identify", "payload": {"profileId": f"u{text}", "firstName": text}}, LONE_SURROGATES
    ),
    st.builds(lambda text: {"type": "group", "payload": {"id": "g", "type": text, "name": text}}, LONE_SURROGATES),
    st.integers(min_value=60_000, max_value=70_000).map(
        lambda size: {"type": "track", "payload": {"name": "big", "properties": {"s": "x" * size}}}
    ),
    st.integers(min_value=4, max_value=600).map(  # deeper is json.loads's own limit: text_bodies covers it
        lambda depth: {
            "type": "track",
            "payload": {"name": "deep", "properties": json.loads(_nest(depth, '{"a":', "}"))},
        }
    ),
)
# Session-replay chunks (POST /track, type "replay"): extreme and malformed times, lone surrogates and oversized
# payloads, out-of-range counters, and fields of the wrong type.
replay_times = st.one_of(EXTREME_TIMES, moments.map(lambda moment: moment.isoformat()), texts, json_values)
hostile_replays = st.builds(
    lambda fields, extra: {"type": "replay", "payload": {**fields, **extra}},
    st.fixed_dictionaries(
        {
            "chunk_index": st.one_of(st.integers(-5, 70_000), st.sampled_from([10**20, 1.5, "0", None])),
            "events_count": st.one_of(st.integers(-1, 2_000_000), json_values),
            "is_full_snapshot": st.one_of(st.booleans(), json_values),
            "started_at": replay_times,
            "ended_at": replay_times,
            "payload": st.one_of(
                st.lists(st.one_of(LONE_SURROGATES, texts), max_size=6).map("".join),
                st.integers(0, 2).map(lambda extra: "x" * (2 * 1024 * 1024 - 1 + extra)),
                json_values,
            ),
        }
    ),
    st.dictionaries(texts, json_values, max_size=2),
)
# Chunks a client could really send: valid fields, times near the bounds, payloads with lone surrogates.
replay_starts = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.timezones())
plausible_replays = st.builds(
    lambda index, count, full, start, seconds, payload: {
        "type": "replay",
        "payload": {
            "chunk_index": index,
            "events_count": count,
            "is_full_snapshot": full,
            "started_at": start.isoformat(),
            "ended_at": (start + timedelta(seconds=seconds)).isoformat(),
            "payload": payload,
        },
    },
    st.integers(0, 65_535),
    st.integers(1, 1_000),
    st.booleans(),
    replay_starts,
    st.integers(0, 600),
    st.lists(st.one_of(LONE_SURROGATES, texts), max_size=6).map("".join),
)
hostile_batches = st.fixed_dictionaries(
    {"batch": st.lists(st.one_of(hostile_items, plausible_requests), min_size=1, max_size=6)},
    optional={"sentAt": st.one_of(EXTREME_TIMES, moments.map(lambda moment: moment.isoformat()))},
)
