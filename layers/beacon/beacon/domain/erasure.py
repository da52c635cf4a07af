"""Erasure of one person's data (GDPR article 17): a registry of per-store erasers behind one interface.

An erasure runs in three steps, each checkpointed in the erasure's receipt so that a run killed halfway is
completed by running it again (docs/PRIVACY.md):

1. **Scope.** The profile id is resolved both ways (an alias to its profile, the profile to all its aliases),
   and the devices it was linked to are found: every `deviceId` on an event carrying one of those ids. The scope
   is saved before anything is removed, because removing the aliases and events removes the way to find it.
2. **Suppression** (optional, Segment's SUPPRESS_WITH_DELETE): the ids are added to the project's blocked profile
   ids first, so a client that keeps sending cannot recreate the profile while, or after, it is erased.
3. **One eraser per store**, in the registry's order. Each yields how many items it removed, batch by batch; the
   runner adds them to the receipt and saves it after each batch, and marks the store done when it returns. An
   eraser only removes what matches the scope now, so running it again after a crash removes the rest.

When every store is done, the scope (which names the person) is dropped from the receipt: what remains is the
erasure id, the counts per store and the times. Running a finished erasure again changes nothing and answers the
same receipt. The domain knows no store: the erasers are `StoreEraser`s built in `beacon/store/erasure.py`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

RUNNING = "running"
DONE = "done"
# Every store this runner could erase is done; what is left (the lake's Parquet rewrite) waits for a runner that
# can, the operator's `beacon profiles erase`. The scope is kept until then: it is what the rest is matched on.
WAITING = "waiting"
LAKE = "lake"  # the lake eraser's name (admin/lake_erasure.py ParquetLakeEraser)


@dataclass(frozen=True)
class ErasureRequest:
    """What to erase. `linked_devices`: also the anonymous events of the devices the profile was seen on (the
    events carrying no profile id whose `deviceId` appears on one of the profile's events). `suppress`: keep the
    ids blocked afterwards."""

    project_id: str
    profile_id: str
    linked_devices: bool = True
    suppress: bool = False


def erasure_id(project_id: str, profile_id: str) -> str:
    """The same request always has the same id: a second request finds the first one's receipt (idempotent), and
    the id names no person (a keyed hash would add nothing: the id is only ever shown to the project's root)."""
    return hashlib.blake2b(f"{project_id}\x00{profile_id}".encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class ErasureScope:
    """Everything an eraser matches on, all inside one project."""

    project_id: str
    profile_ids: frozenset[str]
    device_ids: frozenset[str] = frozenset()
    linked_devices: bool = True
    # The sessions of the profile's events: what session records and replay chunks are found by, kept because the
    # events that name them are erased first.
    session_ids: frozenset[str] = frozenset()


@dataclass
class ErasureReceipt:
    id: str
    project_id: str
    status: str
    requested_at: datetime
    linked_devices: bool
    suppress: bool
    counts: dict[str, int] = field(default_factory=dict)  # items removed per store, so far
    done: list[str] = field(default_factory=list)  # stores finished, in order
    scope: ErasureScope | None = None  # kept only while running
    finished_at: datetime | None = None


class StoreEraser(Protocol):
    """One store's part of an erasure. `erase` removes what matches the scope, yielding the number of items removed
    per batch (zero-removal batches may be skipped); `count` is the dry run: how many items would be removed."""

    name: str

    def erase(self, scope: ErasureScope) -> Iterator[int]: ...
    def count(self, scope: ErasureScope) -> int: ...


class ScopeResolver(Protocol):
    def resolve(self, request: ErasureRequest) -> ErasureScope: ...


class ErasureLog(Protocol):
    """The receipts, with their checkpoints (DynamoDB: `beacon/store/erasure.py`)."""

    def load(self, project_id: str, erasure_id: str) -> ErasureReceipt | None: ...
    def save(self, receipt: ErasureReceipt) -> None: ...


class Suppressor(Protocol):
    def block_profiles(self, project_id: str, profile_ids: Sequence[str]) -> None: ...


def start_erasure(request: ErasureRequest, resolver: ScopeResolver, log: ErasureLog, now: datetime) -> ErasureReceipt:
    """The receipt of the request: the existing one (running or done), else a new one holding the resolved scope.
    Fast (one alias read, the profile's events' device ids): the API answers 202 with it, the work runs after."""
    existing = log.load(request.project_id, erasure_id(request.project_id, request.profile_id))
    if existing is not None:
        return existing
    receipt = ErasureReceipt(
        id=erasure_id(request.project_id, request.profile_id),
        project_id=request.project_id,
        status=RUNNING,
        requested_at=now,
        linked_devices=request.linked_devices,
        suppress=request.suppress,
        scope=resolver.resolve(request),
    )
    log.save(receipt)
    return receipt


def run_erasure(
    receipt: ErasureReceipt,
    erasers: Iterable[StoreEraser],
    log: ErasureLog,
    clock: Callable[[], datetime],
    suppressor: Suppressor | None = None,
    deferred: Collection[str] = (),
) -> ErasureReceipt:
    """Complete the erasure from its last checkpoint; a finished one is returned unchanged. `deferred` names the
    stores this runner cannot erase (the privacy function has no Parquet library: the lake): when the erasers are
    done and one of those is not, the receipt is left WAITING, its scope kept, for a runner that has them all."""
    if receipt.status == DONE:
        return receipt
    scope = receipt.scope
    assert scope is not None, "a running erasure keeps its scope"
    if receipt.suppress and "suppression" not in receipt.done:
        if suppressor is None:
            raise ValueError("this erasure asks for suppression, and no suppressor was given")
        suppressor.block_profiles(scope.project_id, sorted(scope.profile_ids))
        receipt.done.append("suppression")
        log.save(receipt)
    for eraser in erasers:
        if eraser.name in receipt.done:
            continue
        receipt.counts.setdefault(eraser.name, 0)
        for removed in eraser.erase(scope):
            if removed:
                receipt.counts[eraser.name] += removed
                log.save(receipt)
        receipt.done.append(eraser.name)
        log.save(receipt)
    if any(name not in receipt.done for name in deferred):
        waiting = replace(receipt, status=WAITING)
        log.save(waiting)
        return waiting
    finished = replace(receipt, status=DONE, scope=None, finished_at=clock())
    log.save(finished)
    return finished


def receipt_document(receipt: ErasureReceipt) -> dict[str, object]:
    """The receipt as the API and the CLI show it: never the scope (it names the person)."""
    return {
        "id": receipt.id,
        "projectId": receipt.project_id,
        "status": receipt.status,
        "requestedAt": receipt.requested_at.isoformat(),
        "finishedAt": receipt.finished_at.isoformat() if receipt.finished_at else None,
        "linkedDevices": receipt.linked_devices,
        "suppress": receipt.suppress,
        "removed": dict(receipt.counts),
        "storesDone": list(receipt.done),
        **({"pending": [LAKE]} if receipt.status == WAITING else {}),
    }


def count_erasure(scope: ErasureScope, erasers: Iterable[StoreEraser]) -> dict[str, int]:
    """The dry run: what each store would remove."""
    return {eraser.name: eraser.count(scope) for eraser in erasers}


def payload_mentions(payload: str, ids: frozenset[str]) -> bool:
    """Whether a rejected event's payload (JSON as sent, perhaps cut at 4 KB) names one of `ids`: parsed when it
    parses, else searched for each id as a JSON string (`"alice"`), which an id cut short cannot match."""
    import json

    try:
        return mentions(json.loads(payload), ids)
    except ValueError:
        return any(json.dumps(profile_id) in payload for profile_id in ids)


def mentions(value: object, ids: frozenset[str]) -> bool:
    """Whether a payload as sent names one of `ids` anywhere (a rejected event's `profileId`, an alias' `alias`)."""
    if isinstance(value, str):
        return value in ids
    if isinstance(value, dict):
        return any(mentions(item, ids) for item in value.values())
    if isinstance(value, list | tuple):
        return any(mentions(item, ids) for item in value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value) in ids  # numeric profile ids are stored as their decimal string
    return False
