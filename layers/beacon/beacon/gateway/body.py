"""Request bodies as they arrive: base64 from API Gateway (binary media types), optionally gzip-compressed; and
the Beacon envelope that hands Powertools' parser the decoded body to validate against a wire model."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from pydantic import TypeAdapter

from beacon.errors import InvalidRequestError, PayloadTooLargeError
from beacon.text import well_formed_json

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parser.envelopes.base import BaseEnvelope
else:
    # Importing BaseEnvelope imports every one of Powertools' built-in envelopes and their models, a large part
    # of a cold start (docs/DESIGN.md §23). Powertools' parse() needs only a class whose instances have
    # parse(data, model); type checkers see the real base class and hold this one to its signature.
    BaseEnvelope = object

DEFAULT_BODY_LIMIT = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"  # how every gzip member starts (RFC 1952)
MAX_GZIP_MEMBERS = 32  # clients send one; `cat a.gz b.gz` makes a few
M = TypeVar("M")


def decode_body(
    body: str | None, is_base64: bool, content_encoding: str | None, limit: int, stated_limit: int | None = None
) -> bytes:
    """The request body's bytes, decompressed; PayloadTooLargeError past `limit` bytes either way, naming
    `stated_limit` when given (POST /track reads up to the replay limit, and names the limit of its other bodies)."""
    stated = limit if stated_limit is None else stated_limit
    data = base64.b64decode(body or "") if is_base64 else (body or "").encode()
    if len(data) > limit:
        raise PayloadTooLargeError(f"Request body exceeds {stated} bytes")
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return data
    if encoding != "gzip":
        raise InvalidRequestError(f"Unsupported Content-Encoding '{encoding[:32]}' (use gzip)")
    return gunzip(data, limit, stated)


def gunzip(data: bytes, limit: int, stated_limit: int | None = None) -> bytes:
    """Every gzip member of `data` decompressed (RFC 1952: a gzip body is one or more members back to back), at most
    `limit` bytes in all: a zip bomb, of one member or of many, stops at the limit instead of filling memory. Bytes
    after a member that do not start another are refused, never ignored; so are more than MAX_GZIP_MEMBERS members
    (each one copies what follows it: thousands of tiny members would cost seconds for nothing)."""
    parts: list[bytes] = []
    size = 0
    rest = data
    for _ in range(MAX_GZIP_MEMBERS):
        decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            output = decompressor.decompress(rest, limit - size + 1)  # never 0 (which would mean no bound)
        except zlib.error as exc:
            raise InvalidRequestError("Body is not valid gzip") from exc
        size += len(output)
        if size > limit or decompressor.unconsumed_tail:
            raise PayloadTooLargeError(
                f"Decompressed body exceeds {limit if stated_limit is None else stated_limit} bytes"
            )
        if not decompressor.eof:
            raise InvalidRequestError("Body is not valid gzip (truncated)")
        parts.append(output)
        rest = decompressor.unused_data
        if not rest:
            return output if len(parts) == 1 else b"".join(parts)
        if not rest.startswith(GZIP_MAGIC):
            raise InvalidRequestError("Body is not valid gzip (bytes after its end)")
    raise InvalidRequestError(f"Body is not valid gzip (more than {MAX_GZIP_MEMBERS} gzip members)")


def header(event: Mapping[str, Any], name: str) -> str | None:
    """A request header of a proxy event, by its lower-case name (HTTP header names are case-insensitive)."""
    headers = event.get("headers") or {}
    value = headers.get(name)
    if value is not None:
        return str(value)
    for key, value in headers.items():
        if len(key) == len(name) and key.lower() == name:  # the length first: most names differ in it
            return str(value)
    return None


def event_body(event: Mapping[str, Any], limit: int, stated_limit: int | None = None) -> bytes:
    """The decoded body of an API Gateway proxy event."""
    encoding = header(event, "content-encoding")
    return decode_body(event.get("body"), bool(event.get("isBase64Encoded")), encoding, limit, stated_limit)


class BeaconEnvelope(BaseEnvelope):
    """Powertools parser envelope for Beacon's request bodies: the proxy event's body decoded (base64, gzip within
    `limit`), made well-formed (beacon/text.py: a lone surrogate becomes U+FFFD), then validated against the model
    in one pass. The model is a TypeAdapter (the models' own, built once with them), a model with its own
    `parse_body`, or a pydantic model."""

    limit: ClassVar[int] = DEFAULT_BODY_LIMIT

    def parse(self, data: dict[str, Any] | Any | None, model: type[M]) -> M:
        body = well_formed_json(event_body(data or {}, self.limit))
        if isinstance(model, TypeAdapter):
            return cast(M, model.validate_json(body))
        parse_body = getattr(model, "parse_body", None)
        if parse_body is not None:
            return cast(M, parse_body(body))
        return cast(M, model.model_validate_json(body))  # type: ignore[attr-defined]


@cache
def envelope(limit: int) -> type[BeaconEnvelope]:
    """The envelope for bodies of at most `limit` bytes (Powertools instantiates envelopes without arguments)."""
    return type(f"BeaconEnvelope{limit}", (BeaconEnvelope,), {"limit": limit})
