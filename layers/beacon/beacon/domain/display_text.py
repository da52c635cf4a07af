"""Display strings Beacon derives from request headers (geo names, device fields): only characters that display.

Control characters (Unicode Cc) allow log and CSV injection; format characters (Cf) are invisible yet change how a
string displays: U+202E RIGHT-TO-LEFT OVERRIDE makes what follows read backwards, zero-width characters and the
byte order mark make two equal-looking names differ. Line and paragraph separators (Zl, Zp) and lone surrogates
(Cs, which DynamoDB cannot store) go too. Letters, marks, digits, punctuation, symbols and spaces of every script stay.
"""

from __future__ import annotations

import unicodedata

INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def visible_text(value: str) -> str:
    """`value` without the characters of INVISIBLE_CATEGORIES."""
    if value.isprintable():  # no character of Unicode's Other or Separator classes but the space: the usual case
        return value
    return "".join(char for char in value if unicodedata.category(char) not in INVISIBLE_CATEGORIES)
