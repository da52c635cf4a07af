"""template.yaml's read function: its routes, its settings, and nothing more than the reads it makes."""

from __future__ import annotations

from local.template import read_template


def test_the_read_function_may_only_query_events_and_session_indexes_get_entities_and_sessions_and_read_its_cursor_key(
    resources,
):
    # Given the read function's inline policy
    [policy] = resources["ReadFunction"]["Properties"]["Policies"]
    plain = [statement for statement in policy["Statement"] if "Fn::If" not in statement]
    grants = [(statement["Action"], statement["Resource"]) for statement in plain]
    # Then it may Query the events table and its profile index (never Scan, never write), Query the sessions
    # table's keys-only byIdleBucket index (live visitors; not the table), GetItem on profiles/aliases/groups,
    # GetItem of an ended session's record and Query of the sessions' record index (issue 17), and read the
    # cursor-signing secret, and nothing else
    assert grants == [
        (
            ["dynamodb:Query"],
            [{"Fn::GetAtt": ["EventsTable", "Arn"]}, {"Fn::Sub": "${EventsTable.Arn}/index/byProfile"}],
        ),
        (["dynamodb:Query"], {"Fn::Sub": "${SessionsTable.Arn}/index/byIdleBucket"}),
        (["dynamodb:GetItem"], {"Fn::GetAtt": ["EntitiesTable", "Arn"]}),
        (["dynamodb:GetItem"], {"Fn::GetAtt": ["SessionsTable", "Arn"]}),
        (["dynamodb:Query"], {"Fn::Sub": "${SessionsTable.Arn}/index/byProjectStart"}),
        (["secretsmanager:GetSecretValue"], {"Ref": "CursorSecret"}),
        # session replay: Query on its index (never Scan, never write), GetObject under replays/ (never list)
        (["dynamodb:Query"], {"Fn::GetAtt": ["ReplaysTable", "Arn"]}),
        (["s3:GetObject"], {"Fn::Sub": "${ReplayBucket.Arn}/replays/*"}),
    ]
    assert all(statement["Effect"] == "Allow" for statement in plain)


def test_with_the_lake_the_read_function_may_query_its_workgroup_and_what_athena_reads_and_writes_for_it(resources):
    # Given the read function's statements that only a stack with the lake has
    [policy] = resources["ReadFunction"]["Properties"]["Policies"]
    conditional = [statement["Fn::If"] for statement in policy["Statement"] if "Fn::If" in statement]
    assert all(condition == "UseLake" and absent == {"Ref": "AWS::NoValue"} for condition, _, absent in conditional)
    grants = {statement["Sid"]: (statement["Action"], statement["Resource"]) for _, statement, _ in conditional}
    # Then it may run queries in the lake's workgroup only, read the lake's table and its files, and write results
    assert grants["QueryLakeWorkGroup"] == (
        ["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults"],
        {"Fn::Sub": "arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:workgroup/${LakeWorkGroup}"},
    )
    assert grants["ReadLakeFiles"] == (["s3:GetObject"], {"Fn::Sub": "${LakeBucket.Arn}/events/*"})
    assert grants["WriteQueryResults"][1] == {"Fn::Sub": "${LakeResultsBucket.Arn}/results/*"}
    assert set(grants) == {
        "QueryLakeWorkGroup",
        "ReadLakeDatabase",
        "ReadLakeTable",
        "ListLakeAndResultsBuckets",
        "ReadLakeFiles",
        "WriteQueryResults",
    }


def test_the_cursor_key_is_generated_per_stack(resources):
    secret = resources["CursorSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    assert secret["Properties"]["Name"] == {"Fn::Sub": "beacon/${AWS::StackName}/cursor-key"}


def test_the_read_routes_go_to_the_read_function_behind_the_authorizer_and_a_usage_plan():
    routes = {(route.method, route.path): route for route in read_template().routes()}
    for path in ("/export/events", "/profile/{profileId}", "/profile/{profileId}/events", "/group/{groupId}"):
        route = routes[("GET", path)]
        assert route.function == "ReadFunction", path
        assert route.authorizer == "BeaconAuthorizer" and route.api_key_required, path


def test_the_read_function_is_told_its_tables_and_cursor_key():
    environment = read_template().functions()["ReadFunction"].environment
    assert {key: environment[key] for key in ("EVENTS_TABLE", "ENTITIES_TABLE", "CURSOR_SECRET")} == {
        "EVENTS_TABLE": "EventsTable",
        "ENTITIES_TABLE": "EntitiesTable",
        "CURSOR_SECRET": "CursorSecret",
    }
