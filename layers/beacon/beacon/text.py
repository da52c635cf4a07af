"""Text Beacon keeps is well-formed Unicode: a lone surrogate becomes U+FFFD (the replacement character).

JSON lets a string escape half of a surrogate pair (`"\\ud800"`), and browsers send such strings: a JavaScript
string cut in the middle of an emoji, then `JSON.stringify`. Python's json module accepts them; such a string
cannot be encoded as UTF-8, so once stored it breaks every read, size check and update that meets it. The one
policy, applied at both ends:

* every request body is made well-formed before it is validated (`well_formed_json`, in the Beacon envelope), so
  `/track` and `/track/batch`, every request type, keys and values alike, store the same replacement;
* what is read back from storage is made well-formed too (`well_formed`), so nothing stored before can make a read
  fail.
"""

from __future__ import annotations

import json
import re
from typing import Any

REPLACEMENT = "\ufffd"
# A \uD800-\uDFFF escape: the only way JSON in UTF-8 can carry a surrogate (raw surrogate bytes are invalid UTF-8).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def well_formed(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD (pairs decoded by a JSON parser are one character)."""
    if text.isascii():
        return text
    return _LONE_SURROGATE.sub(REPLACEMENT, text)


def well_formed_value(value: Any) -> Any:
    """A parsed JSON value with every string, keys included, well-formed."""
    if isinstance(value, str):
        return well_formed(value)
    if isinstance(value, dict):
        return {well_formed(key): well_formed_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [well_formed_value(item) for item in value]
    return value


def well_formed_json(body: bytes) -> bytes:
    """A JSON body whose strings are all well-formed: unchanged (and not parsed) unless it escapes a surrogate; an
    invalid body is returned as it is, for the validator to refuse."""
    if _SURROGATE_ESCAPE.search(body) is None:
        return body
    try:
        value = well_formed_value(json.loads(body.decode("utf-8")))  # strict: invalid UTF-8 is the validator's
    except (ValueError, RecursionError):  # not JSON (UnicodeDecodeError is a ValueError), or nested too deep
        return body
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
