"""A row bound for Firehose is UTF-8 JSON even when a stored item holds a lone surrogate (beacon/text.py)."""

import json

from beacon.store.firehose import encode_row, pack_records


def test_a_lone_surrogate_in_a_stored_value_becomes_the_replacement_character() -> None:
    line = encode_row({"name": "cut \ud800 emoji", "properties": '{"k":"v"}', "missing": None})
    assert json.loads(line) == {"name": "cut \ufffd emoji", "properties": '{"k":"v"}'}


def test_a_batch_with_one_such_row_packs_every_row() -> None:
    records = pack_records([{"id": "a", "name": "\udfff"}, {"id": "b", "name": "ok"}])
    lines = b"".join(records).decode().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a", "b"]
