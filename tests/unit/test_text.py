"""beacon/text.py: the one policy for lone surrogates (issue 15, findings 1 and 4)."""

from __future__ import annotations

import json

import pytest

from beacon.store.dynamodb import deserialize_item, item_size
from beacon.text import REPLACEMENT, well_formed, well_formed_json


def test_a_body_without_surrogate_escapes_is_passed_on_byte_for_byte() -> None:
    # Given bodies with non-ASCII text, escapes of other characters and valid surrogate pairs as UTF-8
    bodies = [b'{"k": "caf\xc3\xa9 \\u00e9 \\n", "n": 1.50}', '{"e": "😀"}'.encode()]

    # When they are made well-formed, then they are the very same bytes (not parsed, not re-encoded)
    assert [well_formed_json(body) for body in bodies] == bodies


def test_lone_surrogates_in_keys_and_values_become_the_replacement_and_pairs_stay_whole() -> None:
    # Given a body escaping a lone high surrogate, a lone low one as a key, and a valid pair
    body = b'{"k": "a\\ud800b", "\\udc00": ["\\ud83d\\ude00", "\\uDBFF"], "n": 1}'

    # When it is made well-formed
    value = json.loads(well_formed_json(body))

    # Then every lone surrogate is U+FFFD, the pair is its emoji, the rest is unchanged
    assert value == {"k": f"a{REPLACEMENT}b", REPLACEMENT: ["😀", REPLACEMENT], "n": 1}
    well_formed_json(body).decode("utf-8")  # valid UTF-8 now: it can be stored and read anywhere


@pytest.mark.parametrize("body", [b'{"k": "\\ud800"', b"[" * 100_000 + b'"\\ud800"' + b"]" * 100_000, b"\xff\\ud800"])
def test_a_body_that_is_not_json_is_left_for_the_validator_to_refuse(body: bytes) -> None:
    assert well_formed_json(body) == body


def test_strings_read_back_from_storage_are_well_formed_and_sizes_never_fail() -> None:
    # Given an item stored with lone surrogates before the policy existed
    item = {"name\ud800": {"S": "x\udfff"}, "m": {"M": {"k": {"S": "\ud800"}}}, "s": {"SS": ["\ud801"]}}

    # When it is read back and measured
    plain = deserialize_item(item)

    # Then its strings are well-formed, and its size is DynamoDB's (3 bytes per surrogate), not an error
    assert plain == {f"name{REPLACEMENT}": f"x{REPLACEMENT}", "m": {"k": REPLACEMENT}, "s": {REPLACEMENT}}
    # "name\ud800" 7 + "x\udfff" 4; "m" 1 + a map 3 + "k" 1 + 1 + 3; "s" 1 + its member 3
    assert item_size(item) == (7 + 4) + (1 + 3 + 1 + 1 + 3) + (1 + 3)
    assert well_formed("plain") == "plain"


def test_the_bytes_of_a_lone_surrogate_are_invalid_utf8_and_refused_by_the_batch_parser_as_by_track() -> None:
    # Given a batch whose item holds a lone surrogate as raw bytes (CESU-8: invalid UTF-8), not as an escape
    from beacon.errors import InvalidRequestError
    from beacon.models.requests import parse_batch_request

    body = '{"batch": [{"type": "track", "payload": {"name": "x", "properties": {"k": "\ud800"}}}]}'.encode(
        "utf-8", "surrogatepass"
    )

    # When it is parsed, then it is refused as POST /track refuses it (json.loads alone would have let it through)
    assert well_formed_json(body) == body
    with pytest.raises(InvalidRequestError):
        parse_batch_request(body)
