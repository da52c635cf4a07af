"""Request bodies as they arrive: base64 from API Gateway (binary media types), optionally gzip-compressed."""

from __future__ import annotations

import base64
import zlib

from beacon.domain.errors import InvalidRequestError, PayloadTooLargeError


def decode_body(body: str | None, is_base64: bool, content_encoding: str | None, limit: int) -> bytes:
    """The request body's bytes, decompressed; PayloadTooLargeError past `limit` bytes either way."""
    data = base64.b64decode(body or "") if is_base64 else (body or "").encode()
    if len(data) > limit:
        raise PayloadTooLargeError(f"Request body exceeds {limit} bytes")
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return data
    if encoding != "gzip":
        raise InvalidRequestError(f"Unsupported Content-Encoding '{encoding[:32]}' (use gzip)")
    return gunzip(data, limit)


def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress at most `limit` bytes: a zip bomb stops at the limit instead of filling memory."""
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        output = decompressor.decompress(data, limit + 1)
    except zlib.error as exc:
        raise InvalidRequestError("Body is not valid gzip") from exc
    if len(output) > limit or decompressor.unconsumed_tail:
        raise PayloadTooLargeError(f"Decompressed body exceeds {limit} bytes")
    if not decompressor.eof:
        raise InvalidRequestError("Body is not valid gzip (truncated)")
    return output
