"""Wire contract of the privacy routes (functions/privacy, docs/PRIVACY.md): a person's erasure and export.

`DELETE /profile/{profileId}`, `GET /erasures/{erasureId}`, `GET /profile/{profileId}/export`, root clients only.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from beacon.models.reads import MAX_LIMIT, Cursor, EmptyIsAbsent, ExportEvent, IsoTime, _Query

DEFAULT_EXPORT_LIMIT = 100


class EraseProfileQuery(_Query):
    """Query parameters of `DELETE /profile/{profileId}`, the options of `beacon profiles erase`."""

    linkedDevices: bool = Field(
        default=True,
        description=(
            "Also erase the anonymous events of the devices the profile was seen on (an identified event of the "
            "profile came from the device). `false` keeps them (`--no-linked-devices`)."
        ),
    )
    suppress: bool = Field(
        default=False,
        description=(
            "Keep the profile id and its aliases blocked afterwards, so a client that keeps sending cannot "
            "recreate the profile (Segment's SUPPRESS_WITH_DELETE; `--suppress`)."
        ),
    )


class ErasureQuery(_Query):
    """Query parameters of `GET /erasures/{erasureId}`."""


class ErasurePath(BaseModel):
    erasureId: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")] = Field(
        description="The erasure's id, as `DELETE /profile/{profileId}` answered it (32 hex digits)."
    )


class ExportProfileQuery(_Query):
    """Query parameters of `GET /profile/{profileId}/export`."""

    cursor: Annotated[
        Cursor | None,
        EmptyIsAbsent,
        Field(description="`meta.next` of the previous page: the next page of the person's events."),
    ] = None
    limit: int = Field(default=DEFAULT_EXPORT_LIMIT, ge=1, le=MAX_LIMIT, description="Events per page.")


# -- responses ----------------------------------------------------------------------------------------------


class ErasureResponse(BaseModel):
    """An erasure's receipt. It names no person: the ids it matched on are dropped when it is done."""

    erasureId: str = Field(description="The same request always has the same id (a hash of project and profile id).")
    projectId: str
    status: str = Field(
        description=(
            "`running`; `waiting`: every store the API erases is done, and the lake's rewrite waits for the "
            "operator (`pending`); `done`."
        )
    )
    statusUrl: str = Field(description="Where the receipt is read, relative to the API's base URL.")
    requestedAt: IsoTime
    finishedAt: IsoTime | None = None
    linkedDevices: bool
    suppress: bool
    removed: dict[str, int] = Field(description="Items removed so far, per store.")
    storesDone: list[str] = Field(description="Stores finished, in order (`suppression` first when asked for).")
    pending: list[str] = Field(
        default_factory=list,
        description=(
            "Stores left to the operator: `lake` when the stack has a lake. The API's function has no Parquet "
            "library; `./beacon profiles erase --project P --profile-id X --yes` rewrites the lake's files and "
            "completes this erasure (docs/PRIVACY.md)."
        ),
    )
    next: str | None = Field(default=None, description="What completes the erasure, when something is pending.")


class ExportMeta(BaseModel):
    count: int = Field(description="Events on this page.")
    next: str | None = Field(
        description="Opaque, signed cursor of the next page of events (`cursor`); null on the last page."
    )


class ExportResponse(BaseModel):
    """Everything stored about a person (GDPR article 15), a page of events at a time. The first page (no `cursor`)
    carries the profile, its aliases, groups and sessions; every page carries the next events of its history."""

    projectId: str
    profileId: str = Field(description="The profile id as asked for.")
    exportedAt: IsoTime
    profiles: list[dict[str, Any]] | None = Field(
        default=None, description="The profile (and any alias' own item); first page only."
    )
    aliases: list[dict[str, Any]] | None = Field(default=None, description="Alias items; first page only.")
    groups: list[dict[str, Any]] | None = Field(default=None, description="The profile's groups; first page only.")
    sessions: list[dict[str, Any]] | None = Field(
        default=None, description="The current session of each device the profile was seen on; first page only."
    )
    events: list[ExportEvent] = Field(description="The next events of the person's history, oldest first.")
    meta: ExportMeta
