"""A person's data over HTTP (GDPR articles 15 and 17): who may ask, the erasure's request and receipt, and the
export a page at a time behind a signed cursor. The erasure itself is beacon/domain/erasure.py's.

Only a root client with its secret may erase or export, and only in its own project (the read API's rule,
domain/reads.py, narrowed to root: a read client reads, it never removes).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from beacon.domain.entities import Caller, ClientType
from beacon.domain.erasure import (
    RUNNING,
    ErasureLog,
    ErasureReceipt,
    ErasureRequest,
    ErasureScope,
    ScopeResolver,
    erasure_id,
    start_erasure,
)
from beacon.domain.reads import b64, unb64
from beacon.errors import ForbiddenError, InvalidCredentialsError, InvalidRequestError, NotFoundError

# -- who may ask ---------------------------------------------------------------------------------------------


def privacy_project(caller: Caller, requested: str | None) -> str:
    """The caller's own project, for a root client that sent its secret; anything else is refused."""
    if caller.client_type is not ClientType.ROOT:
        raise ForbiddenError("Forbidden: erasing and exporting a person's data needs a root client")
    if not caller.secret_auth:
        raise InvalidCredentialsError("Erasing and exporting a person's data requires the client secret")
    if requested is not None and requested != caller.project_id:
        raise ForbiddenError("Forbidden: this client cannot act on that project")
    return caller.project_id


# -- erasure -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErasureOptions:
    linked_devices: bool = True
    suppress: bool = False


@dataclass(frozen=True)
class ErasureStarted:
    receipt: ErasureReceipt
    hand_on: bool  # a new erasure: the caller hands it to a runner (a second request finds it already handed on)


def request_erasure(
    caller: Caller,
    requested_project: str | None,
    profile_id: str,
    options: ErasureOptions,
    resolver: ScopeResolver,
    log: ErasureLog,
    now: datetime,
) -> ErasureStarted:
    """The erasure's receipt, created (and its scope resolved and saved) by the first request; the same receipt for
    every later one, which changes nothing (its options included: the first request's stand)."""
    project = privacy_project(caller, requested_project)
    existing = log.load(project, erasure_id(project, profile_id))
    if existing is not None:
        return ErasureStarted(existing, hand_on=False)
    request = ErasureRequest(project, profile_id, linked_devices=options.linked_devices, suppress=options.suppress)
    receipt = start_erasure(request, resolver, log, now)
    return ErasureStarted(receipt, hand_on=receipt.status == RUNNING)


def read_erasure(caller: Caller, requested_project: str | None, id_: str, log: ErasureLog) -> ErasureReceipt:
    project = privacy_project(caller, requested_project)
    receipt = log.load(project, id_)
    if receipt is None:
        raise NotFoundError("No such erasure in this project")
    return receipt


# -- export --------------------------------------------------------------------------------------------------


class PersonalDataPages(Protocol):
    """What an export reads (DynamoDB: beacon/store/export.py)."""

    def head(self, scope: ErasureScope) -> dict[str, list[dict[str, Any]]]:
        """profiles, aliases, groups and sessions: a few items, read once, on the first page."""
        ...

    def profile_ids(self, project_id: str, profile_id: str) -> frozenset[str]:
        """The profile id both ways through aliases (two reads: a later page's, without the scope's devices)."""
        ...

    def events_page(
        self, project_id: str, profile_id: str, after: dict[str, Any] | None, limit: int
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """Up to `limit` events of one profile id, oldest first, after the store's position `after`; and the
        position after the last one, or None when the profile id has no more."""
        ...


@dataclass(frozen=True)
class ExportPosition:
    """Where the next page starts: at the person's id `id` (their ids are read in sorted order), after the store's
    position `after` in it (None: from its start). Only this is carried, so a cursor stays short however many
    aliases the person has; the ids are resolved again on each page."""

    id: str
    after: dict[str, Any] | None  # opaque here


@dataclass(frozen=True)
class ExportPage:
    project_id: str
    profile_id: str
    head: dict[str, list[dict[str, Any]]] | None  # first page only
    events: list[dict[str, Any]]
    next_cursor: str | None


class ExportCursorCodec:
    """`base64url(JSON position) "." base64url(HMAC-SHA256)` under a key of its own, derived from the stack's cursor
    secret (a read API cursor never verifies here, nor an export cursor there). The MAC covers the project and the
    profile id as asked too, which the cursor does not carry: it verifies only for the same person's next page."""

    def __init__(self, secret: Callable[[], bytes]) -> None:
        self._secret = secret
        self._key: bytes | None = None

    def _mac(self, project_id: str, profile_id: str, payload: bytes) -> bytes:
        if self._key is None:
            self._key = hmac.new(self._secret(), b"beacon export cursor v1", hashlib.sha256).digest()
        bound = json.dumps([project_id, profile_id], ensure_ascii=False).encode() + b"\n" + payload
        return hmac.new(self._key, bound, hashlib.sha256).digest()

    def encode(self, project_id: str, profile_id: str, position: ExportPosition) -> str:
        state = {"v": 1, "id": position.id, "after": position.after}
        payload = json.dumps(state, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
        return f"{b64(payload)}.{b64(self._mac(project_id, profile_id, payload))}"

    def decode(self, token: str, project_id: str, profile_id: str) -> ExportPosition:
        try:
            encoded, mac = token.split(".")
            payload = unb64(encoded)
            valid = hmac.compare_digest(unb64(mac), self._mac(project_id, profile_id, payload))
        except ValueError:
            raise invalid_cursor() from None
        if not valid:  # forged, changed, or signed for another project or person: never honoured
            raise invalid_cursor()
        try:
            state = json.loads(payload)
            if state["v"] != 1 or not isinstance(state["after"], dict | None):
                raise ValueError("not a position")
            return ExportPosition(id=str(state["id"]), after=state["after"])
        except (ValueError, TypeError, KeyError):
            raise invalid_cursor() from None


def invalid_cursor() -> InvalidRequestError:
    message = "not a cursor this API issued for this client's project and profile"
    return InvalidRequestError(
        f"Invalid query parameter 'cursor': {message}",
        details=[{"field": "cursor", "message": message, "type": "cursor"}],
    )


def export_page(
    caller: Caller,
    requested_project: str | None,
    profile_id: str,
    cursor: str | None,
    limit: int,
    resolver: ScopeResolver,
    pages: PersonalDataPages,
    cursors: ExportCursorCodec,
) -> ExportPage:
    """One page of the person's export: the first resolves the scope (and reads the head); every page goes through
    the person's ids in sorted order, each id's events in the store's order, from the cursor's position."""
    project = privacy_project(caller, requested_project)
    head = None
    if cursor is None:
        scope = resolver.resolve(ErasureRequest(project, profile_id))
        head = pages.head(scope)
        ids = sorted(scope.profile_ids)
        position = ExportPosition(ids[0], None)
    else:
        position = cursors.decode(cursor, project, profile_id)
        ids = sorted(pages.profile_ids(project, profile_id))
    # An id of the cursor that is no longer the person's (an alias removed in between) is passed over in order.
    remaining = [i for i in ids if i >= position.id]
    after = position.after if remaining and remaining[0] == position.id else None
    events: list[dict[str, Any]] = []
    while remaining and len(events) < limit:
        found, after = pages.events_page(project, remaining[0], after, limit - len(events))
        events += found
        if after is None:
            remaining.pop(0)
    next_cursor = cursors.encode(project, profile_id, ExportPosition(remaining[0], after)) if remaining else None
    return ExportPage(project, profile_id, head, events, next_cursor)
