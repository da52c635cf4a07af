"""Idempotency keys: one namespace per client and per kind, so that no two callers and no two kinds can collide.

A key is `<client id>#<kind>#<fixed parts>#<what the caller chose>`: the client id (a UUID) and the kind come
first and hold no `#` of their own, and the caller's part comes last, so two keys are equal only when client,
kind and the caller's part all are. A browser's `__id: order-1` cannot answer for a server's, a batch's items
cannot be claimed by a `POST /track` whose Idempotency-Key mimics them, and two clients' batches under the same
Idempotency-Key are two batches. The idempotency table's items are `<project>#<key>` (store/DATA_MODEL.md).
"""

from __future__ import annotations


def request_key(client_id: str, idempotency_key: str) -> str:
    """`POST /track` with an Idempotency-Key header."""
    return f"{client_id}#request#{idempotency_key}"


def event_key(client_id: str, event_id: str) -> str:
    """A track event with its own `__id`."""
    return f"{client_id}#event#{event_id}"


def batch_item_key(client_id: str, batch_id: str, index: int) -> str:
    """Item `index` of a batch stored by the single-event path."""
    return f"{client_id}#batch-item#{index}#{batch_id}"


def batch_claim_key(client_id: str, batch_id: str) -> str:
    """A batch's claim (its fast path)."""
    return f"{client_id}#batch#{batch_id}"
