"""`beacon profiles erase|export|erasure` and `beacon projects erase`: a person's data, and a whole project's, on
request (GDPR articles 15 and 17; docs/PRIVACY.md).

Without --stack-name they act on the running local stack and its lake (`.local/lake`); with it, on the deployed
stack's tables and lake bucket. The person is `--profile-id` (`--profile` is the AWS profile, as in every command
that takes --stack-name).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from admin.aws import deployed_stack_options, use_aws_options
from admin.lake_erasure import DirectoryLakeFiles, LakeFiles, ParquetLakeEraser, S3LakeFiles
from admin.tables import stack_outputs, table_name
from beacon.domain.auth import PROJECT_ID_PATTERN
from beacon.domain.erasure import (
    ErasureReceipt,
    ErasureRequest,
    ErasureScope,
    StoreEraser,
    count_erasure,
    receipt_document,
    run_erasure,
    start_erasure,
)
from beacon.store.erasure import (
    PROJECT_ERASURE,
    DynamoDBErasureLog,
    DynamoDBPersonalDataReader,
    DynamoDBScopeResolver,
    ErasureTables,
    ProjectSettingsSuppressor,
    dynamodb_erasers,
    project_erasers,
)
from beacon.store.projects import DynamoDBProjectSettingsStore


def erasure_tables(stack_name: str | None) -> ErasureTables:
    return ErasureTables(
        events=table_name("EVENTS_TABLE", "EventsTableName", stack_name),
        entities=table_name("ENTITIES_TABLE", "EntitiesTableName", stack_name),
        sessions=table_name("SESSIONS_TABLE", "SessionsTableName", stack_name),
        rejected_events=table_name("REJECTED_EVENTS_TABLE", "RejectedEventsTableName", stack_name),
        replays=table_name("REPLAYS_TABLE", "ReplaysTableName", stack_name),
        replay_bucket=table_name("REPLAY_BUCKET", "ReplayBucketName", stack_name),
    )


def lake_files(stack_name: str | None) -> LakeFiles | None:
    """The lake: `.local/lake` (BEACON_LAKE_DIR) locally, the stack's bucket in AWS; None when the stack has none."""
    if not stack_name:
        from local.lake import lake_dir
        from local.stack import STATE_DIR

        return DirectoryLakeFiles(lake_dir(STATE_DIR))
    import boto3

    bucket = stack_outputs(stack_name).get("LakeBucketName")
    return S3LakeFiles(bucket, boto3.client("s3")) if bucket else None


def profile_erasers(tables: ErasureTables, lake: LakeFiles | None) -> list[StoreEraser]:
    erasers = dynamodb_erasers(tables)
    if lake is not None:
        erasers.insert(1, ParquetLakeEraser(lake))  # after the events, before the profile
    return erasers


def _print(document: Any) -> None:
    json.dump(document, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def erase_profile(args: argparse.Namespace, ask: Callable[[str], str] | None = None) -> dict[str, Any]:
    tables = erasure_tables(args.stack_name)
    request = ErasureRequest(args.project, args.profile_id, linked_devices=args.linked_devices, suppress=args.suppress)
    resolver = DynamoDBScopeResolver(tables.entities, tables.events)
    erasers = profile_erasers(tables, lake_files(args.stack_name))
    if args.dry_run:
        scope = resolver.resolve(request)
        return {
            "projectId": args.project,
            "dryRun": True,
            "profileIds": len(scope.profile_ids),
            "devices": len(scope.device_ids),
            "counts": count_erasure(scope, erasers),
        }
    question = f"Erase profile {args.profile_id} of project {args.project}? Type the project id: "
    answer = "" if args.yes else (ask or input)(question)
    if not args.yes and answer.strip() != args.project:
        raise SystemExit("aborted: nothing was erased")
    log = DynamoDBErasureLog(tables.entities)
    receipt = start_erasure(request, resolver, log, datetime.now(UTC))
    suppressor = ProjectSettingsSuppressor(DynamoDBProjectSettingsStore(tables.entities, cache_seconds=0))
    return receipt_document(run_erasure(receipt, erasers, log, lambda: datetime.now(UTC), suppressor))


def erase_project(args: argparse.Namespace, ask: Callable[[str], str] | None = None) -> dict[str, Any]:
    tables = erasure_tables(args.stack_name)
    idempotency = table_name("IDEMPOTENCY_TABLE", "IdempotencyTableName", args.stack_name)
    erasers = project_erasers(tables, idempotency)
    lake = lake_files(args.stack_name)
    if lake is not None:
        erasers.insert(1, ProjectLakeEraser(lake, name="lakeFiles"))
    scope = ErasureScope(args.project, frozenset(), frozenset(), linked_devices=False)
    if args.dry_run:
        return {"projectId": args.project, "dryRun": True, "counts": count_erasure(scope, erasers)}
    if not args.yes:
        _print({"projectId": args.project, "wouldRemove": count_erasure(scope, erasers)})
        if (ask or input)(f"Erase every item of project {args.project}? Type the project id: ").strip() != args.project:
            raise SystemExit("aborted: nothing was erased")
    log = DynamoDBErasureLog(tables.entities)
    request = ErasureRequest(args.project, PROJECT_ERASURE, linked_devices=False)
    receipt = start_erasure(request, _FixedScope(scope), log, datetime.now(UTC))
    done = receipt_document(run_erasure(receipt, erasers, log, lambda: datetime.now(UTC)))
    done["next"] = f"revoke the project's clients: ./beacon clients list --project {args.project}, then revoke each"
    return done


class _FixedScope:
    def __init__(self, scope: ErasureScope) -> None:
        self._scope = scope

    def resolve(self, request: ErasureRequest) -> ErasureScope:
        return self._scope


class ProjectLakeEraser(ParquetLakeEraser):
    """Every file of the project's lake prefix, deleted (no rewrite: nothing of the project stays)."""

    def erase(self, scope: ErasureScope) -> Any:
        for name in self.files.list(scope.project_id):
            self.files.delete(name)
            yield 1

    def count(self, scope: ErasureScope) -> int:
        return len(self.files.list(scope.project_id))


def export_profile(args: argparse.Namespace) -> None:
    """One JSON document on stdout, written as it is read: the replay chunks and the events stream one by one."""
    tables = erasure_tables(args.stack_name)
    scope = DynamoDBScopeResolver(tables.entities, tables.events).resolve(ErasureRequest(args.project, args.profile_id))
    reader = DynamoDBPersonalDataReader(tables)
    profiles = reader.profiles(scope)
    group_ids = {group for profile in profiles for group in profile.get("groups", [])}
    out = sys.stdout
    head = {
        "projectId": args.project,
        "profileId": args.profile_id,
        "exportedAt": datetime.now(UTC).isoformat(),
        "profiles": profiles,
        "aliases": reader.aliases(scope),
        "groups": reader.groups(scope, group_ids),
        "sessions": reader.sessions(scope),
        "sessionRecords": reader.session_records(scope),
    }
    out.write(json.dumps(head, default=str)[:-1])
    for name, entries in (
        ("replays", reader.replay_chunks(scope, payloads=args.replay_payloads)),
        ("events", reader.events(scope)),
    ):
        out.write(f", {json.dumps(name)}: [")
        for number, entry in enumerate(entries):
            out.write(("," if number else "") + "\n" + json.dumps(entry, default=str))
        out.write("\n]")
    out.write("}\n")


def show_erasure(args: argparse.Namespace) -> dict[str, Any]:
    receipt: ErasureReceipt | None = DynamoDBErasureLog(erasure_tables(args.stack_name).entities).load(
        args.project, args.id
    )
    if receipt is None:
        raise SystemExit(f"error: no erasure {args.id} in project {args.project}")
    return receipt_document(receipt)


def _project(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", required=True)


def profiles_main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="beacon profiles", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    erase = sub.add_parser("erase", parents=[deployed_stack_options()], help="erase a person's data, every store")
    _project(erase)
    erase.add_argument("--profile-id", required=True)
    erase.add_argument(
        "--no-linked-devices",
        dest="linked_devices",
        action="store_false",
        help="keep the anonymous events of the devices the profile was seen on (erased by default)",
    )
    erase.add_argument("--suppress", action="store_true", help="keep the ids blocked afterwards (SUPPRESS_WITH_DELETE)")
    erase.add_argument("--dry-run", action="store_true", help="count what would be removed, remove nothing")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation (scripts)")
    export = sub.add_parser("export", parents=[deployed_stack_options()], help="everything stored about a person")
    _project(export)
    export.add_argument("--profile-id", required=True)
    export.add_argument(
        "--replay-payloads",
        action="store_true",
        help="put each replay chunk's payload (rrweb events as recorded) in the export, not only its key",
    )
    show = sub.add_parser("erasure", parents=[deployed_stack_options()], help="an erasure's progress and receipt")
    _project(show)
    show.add_argument("--id", required=True)
    args = parser.parse_args(argv)
    use_aws_options(args)
    if not PROJECT_ID_PATTERN.fullmatch(args.project):
        raise SystemExit("error: not a project id")
    if args.command == "erase":
        _print(erase_profile(args))
    elif args.command == "export":
        export_profile(args)
    else:
        _print(show_erasure(args))


def add_project_erase(sub: Any) -> None:
    erase = sub.add_parser("erase", parents=[deployed_stack_options()], help="erase every item and lake row")
    _project(erase)
    erase.add_argument("--dry-run", action="store_true", help="count what would be removed, remove nothing")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation (scripts)")
