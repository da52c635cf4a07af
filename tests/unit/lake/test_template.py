"""The lake in template.yaml: behind EnableLake, the Glue table's schema is the rows' schema, retention is split
between DynamoDB's hot window and the lake's lifecycle, and Athena's workgroup limits what a query may scan."""

from __future__ import annotations

from typing import Any

from beacon.domain.lake import EVENT_COLUMNS, PARTITION_COLUMNS
from local.template import load_template, read_template

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
LAKE = (
    "LakeBucket",
    "LakeResultsBucket",
    "LakeDatabase",
    "LakeEventsTable",
    "LakeDeliveryStream",
    "LakeDeliveryRole",
    "LakeFunction",
    "LakeEventSourceMapping",
    "LakeWorkGroup",
)


def test_every_lake_resource_is_behind_the_enable_lake_parameter():
    assert TEMPLATE["Parameters"]["EnableLake"]["AllowedValues"] == ["true", "false"]
    assert TEMPLATE["Conditions"]["UseLake"] == {"Fn::Equals": [{"Ref": "EnableLake"}, "true"]}
    assert all(RESOURCES[name]["Condition"] == "UseLake" for name in LAKE)


def test_the_glue_table_has_the_rows_columns_and_partitions_by_project_and_day():
    table = RESOURCES["LakeEventsTable"]["Properties"]["TableInput"]
    columns = [(column["Name"], column["Type"]) for column in table["StorageDescriptor"]["Columns"]]
    assert columns == list(EVENT_COLUMNS)
    assert [(key["Name"], key["Type"]) for key in table["PartitionKeys"]] == list(PARTITION_COLUMNS)
    # Partition projection: a query must name its project, and the day range needs no registration
    assert table["Parameters"]["projection.project.type"] == "injected"
    assert table["Parameters"]["projection.day.format"] == "yyyy-MM-dd"


def test_firehose_partitions_by_the_rows_project_and_day_into_parquet_of_the_glue_schema():
    s3 = RESOURCES["LakeDeliveryStream"]["Properties"]["ExtendedS3DestinationConfiguration"]
    assert s3["Prefix"] == "events/project=!{partitionKeyFromQuery:project}/day=!{partitionKeyFromQuery:day}/"
    conversion = s3["DataFormatConversionConfiguration"]
    assert conversion["SchemaConfiguration"]["TableName"] == {"Ref": "LakeEventsTable"}
    assert conversion["InputFormatConfiguration"]["Deserializer"]["HiveJsonSerDe"]["TimestampFormats"] == ["millis"]


def test_dynamodb_keeps_the_hot_window_with_the_lake_and_the_lake_keeps_its_own_retention():
    track = read_template().functions()["TrackFunction"].environment
    assert track["EVENT_RETENTION_DAYS"] == str(TEMPLATE["Parameters"]["HotRetentionDays"]["Default"])
    [rule] = RESOURCES["LakeBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == {"Ref": "LakeRetentionDays"}


def test_athena_queries_are_limited_and_their_results_expire():
    config = RESOURCES["LakeWorkGroup"]["Properties"]["WorkGroupConfiguration"]
    assert config["BytesScannedCutoffPerQuery"] == {"Ref": "LakeBytesScannedCutoff"}
    assert config["EnforceWorkGroupConfiguration"] is True
    [rule] = RESOURCES["LakeResultsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 7


def test_only_inserts_reach_the_consumer_which_reports_partial_batches_and_never_drops_one():
    mapping = RESOURCES["LakeEventSourceMapping"]["Properties"]
    assert mapping["FilterCriteria"]["Filters"] == [{"Pattern": '{"eventName": ["INSERT"]}'}]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["MaximumRetryAttempts"] == -1
