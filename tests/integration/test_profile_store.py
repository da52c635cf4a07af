"""The entities table (profiles, aliases, groups) against DynamoDB Local, created from template.yaml."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from beacon.domain.entities import GroupUpdate, ProfileUpdate, TrackResult
from beacon.errors import ConflictError, DependencyUnavailableError, DuplicateEventError, InvalidRequestError
from beacon.store.profiles import DynamoDBProfileStore

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 22, 12, 0, 0, 123000, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
CONCURRENT_CALLS = 50
WORKERS = 16


@pytest.fixture
def store(dynamodb: Any, template_env: dict[str, str]) -> DynamoDBProfileStore:
    return DynamoDBProfileStore(
        template_env["ENTITIES_TABLE"], client=dynamodb, idempotency_table=template_env["IDEMPOTENCY_TABLE"]
    )


def add_concurrently(store: DynamoDBProfileStore, project_id: str, profile_id: str, path: list[str]) -> None:
    """CONCURRENT_CALLS add_to_property(+1) calls from WORKERS threads sharing one (thread-safe) boto3 client."""

    def add_one(_: int) -> None:
        store.add_to_property(project_id, profile_id, path, Decimal(1), NOW)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        list(pool.map(add_one, range(CONCURRENT_CALLS)))  # list() re-raises the first failure of any call


# -- identify --------------------------------------------------------------------------------------------


def test_identify_creates_a_profile_with_its_fields_and_properties(store, project_id):
    # Given no profile yet
    update = ProfileUpdate(
        profile_id="u-1",
        first_name="Joe",
        last_name="Doe",
        email="joe@doe.com",
        avatar="https://example.com/joe.png",
        properties={"tier": "premium", "age": 42},
    )
    # When it is identified
    store.identify(project_id, update, NOW)
    # Then the profile reads back with every field, its properties gathered into one map, and one timestamp
    profile = store.get_profile(project_id, "u-1")
    assert profile is not None
    assert profile["profileId"] == "u-1"
    assert profile["projectId"] == project_id
    assert (profile["firstName"], profile["lastName"], profile["email"], profile["avatar"]) == (
        "Joe",
        "Doe",
        "joe@doe.com",
        "https://example.com/joe.png",
    )
    assert profile["properties"] == {"tier": "premium", "age": 42}
    assert profile["createdAt"] == profile["updatedAt"] == "2026-11-22T12:00:00.123Z"


def test_identify_overwrites_given_fields_and_keeps_absent_ones(store, project_id):
    # Given an identified profile
    store.identify(project_id, ProfileUpdate("u-1", first_name="Joe", last_name="Doe", email="joe@doe.com"), NOW)
    # When it is identified again, later, with only some fields
    store.identify(project_id, ProfileUpdate("u-1", first_name="Joseph"), LATER)
    # Then the given field is overwritten, the others are kept, createdAt stays and updatedAt advances
    profile = store.get_profile(project_id, "u-1")
    assert profile is not None
    assert (profile["firstName"], profile["lastName"], profile["email"]) == ("Joseph", "Doe", "joe@doe.com")
    assert profile["createdAt"] == "2026-11-22T12:00:00.123Z"
    assert profile["updatedAt"] == "2026-11-22T13:00:00.123Z"


def test_identify_merges_properties_key_by_key(store, project_id):
    # Given a profile with two properties
    store.identify(project_id, ProfileUpdate("u-1", properties={"tier": "free", "country": "SE"}), NOW)
    # When it is identified with one of them changed and a new one
    store.identify(project_id, ProfileUpdate("u-1", properties={"tier": "premium", "seats": 3}), LATER)
    # Then the old key is kept, the given key overwritten, the new key added
    profile = store.get_profile(project_id, "u-1")
    assert profile is not None
    assert profile["properties"] == {"tier": "premium", "country": "SE", "seats": 3}


def test_get_profile_of_an_unknown_id_is_none(store, project_id):
    assert store.get_profile(project_id, "nobody") is None


# -- add_to_property ---------------------------------------------------------------------------------------


def test_increment_creates_missing_profile_starting_at_zero(store, project_id):
    # Given no profile, When a property is incremented by 1
    store.add_to_property(project_id, "u-1", ["visits"], Decimal(1), NOW)
    # Then the profile exists with the property at 1
    profile = store.get_profile(project_id, "u-1")
    assert profile is not None
    assert profile["properties"] == {"visits": 1}
    assert profile["createdAt"] == profile["updatedAt"] == "2026-11-22T12:00:00.123Z"


def test_increment_twice_adds_up(store, project_id):
    # Given a property incremented once
    store.add_to_property(project_id, "u-1", ["visits"], Decimal(1), NOW)
    # When it is incremented again
    store.add_to_property(project_id, "u-1", ["visits"], Decimal(1), LATER)
    # Then it is 2
    profile = store.get_profile(project_id, "u-1")
    assert profile is not None
    assert profile["properties"]["visits"] == 2
    assert profile["updatedAt"] == "2026-11-22T13:00:00.123Z"


def test_increment_keeps_the_profiles_other_properties(store, project_id):
    # Given an identified profile
    store.identify(project_id, ProfileUpdate("u-1", first_name="Joe", properties={"tier": "premium"}), NOW)
    # When a property is incremented
    store.add_to_property(project_id, "u-1", ["visits"], Decimal(1), LATER)
    # Then its fields and other properties are untouched
    profile = store.get_profile(project_id, "u-1")
    assert profile is not None
    assert profile["firstName"] == "Joe"
    assert profile["properties"] == {"tier": "premium", "visits": 1}


def test_increment_of_a_dot_path_creates_the_nested_map(store, project_id):
    # Given a fresh profile, When stats.visits is incremented
    store.add_to_property(project_id, "u-1", ["stats", "visits"], Decimal(1), NOW)
    # Then the map is created and holds the counter
    profile = store.get_profile(project_id, "u-1")
    assert profile is not None
    assert profile["properties"] == {"stats": {"visits": 1}}


def test_increment_of_a_three_level_path_creates_every_map(store, project_id):
    # Given a fresh profile, When a.b.c is incremented twice
    store.add_to_property(project_id, "u-1", ["a", "b", "c"], Decimal(2), NOW)
    store.add_to_property(project_id, "u-1", ["a", "b", "c"], Decimal(3), NOW)
    # Then every level exists and the counter adds up
    profile = store.get_profile(project_id, "u-1")
    assert profile is not None
    assert profile["properties"] == {"a": {"b": {"c": 5}}}


def test_increment_of_a_dot_path_keeps_sibling_keys(store, project_id):
    # Given a map property with another key
    store.identify(project_id, ProfileUpdate("u-1", properties={"stats": {"logins": 4}}), NOW)
    # When a new key inside it is incremented
    store.add_to_property(project_id, "u-1", ["stats", "visits"], Decimal(1), NOW)
    # Then the sibling is kept
    profile = store.get_profile(project_id, "u-1")
    assert profile is not None
    assert profile["properties"] == {"stats": {"logins": 4, "visits": 1}}


def test_decrement_goes_below_zero(store, project_id):
    # Given a property at 1
    store.add_to_property(project_id, "u-1", ["visits"], Decimal(1), NOW)
    # When it is decremented by 3
    store.add_to_property(project_id, "u-1", ["visits"], Decimal(-3), NOW)
    # Then it is negative: counters are not clamped
    profile = store.get_profile(project_id, "u-1")
    assert profile is not None
    assert profile["properties"]["visits"] == -2


def test_decrement_of_a_missing_property_starts_at_zero(store, project_id):
    store.add_to_property(project_id, "u-1", ["credits"], Decimal("-1.5"), NOW)
    profile = store.get_profile(project_id, "u-1")
    assert profile is not None
    assert profile["properties"]["credits"] == Decimal("-1.5")


def test_increment_of_a_string_property_is_invalid_and_changes_nothing(store, project_id):
    # Given a profile whose property holds a string
    store.identify(project_id, ProfileUpdate("u-1", properties={"plan": "pro"}), NOW)
    before = store.get_profile(project_id, "u-1")
    # When it is incremented
    with pytest.raises(InvalidRequestError) as error:
        store.add_to_property(project_id, "u-1", ["plan"], Decimal(1), LATER)
    # Then it is a 400 naming the property, and the profile is unchanged (updatedAt included)
    assert error.value.status == 400
    assert error.value.details is not None
    assert [detail["field"] for detail in error.value.details] == ["payload.property"]
    assert store.get_profile(project_id, "u-1") == before


@pytest.mark.parametrize(
    ("path", "start", "delta"),
    [
        (["n"], "1", "1e-100"),  # the sum needs more than 38 significant digits
        (["n"], "9e125", "9e125"),  # the sum is beyond DynamoDB's largest number
        (["stats", "n"], "1", "1e-100"),  # the same, on a dot path
    ],
)
def test_increment_whose_sum_dynamodb_cannot_hold_is_a_400_and_changes_nothing(store, project_id, path, start, delta):
    # Given a counter
    store.add_to_property(project_id, "u-1", path, Decimal(start), NOW)
    before = store.get_profile(project_id, "u-1")
    # When an increment would make a number DynamoDB cannot store
    with pytest.raises(InvalidRequestError) as error:
        store.add_to_property(project_id, "u-1", path, Decimal(delta), LATER)
    # Then it is a 400 about the property (never a 503: nothing is down), and the counter is unchanged
    assert error.value.status == 400
    assert error.value.details is not None
    assert [detail["field"] for detail in error.value.details] == ["payload.property"]
    assert store.get_profile(project_id, "u-1") == before


def test_increment_through_a_value_that_is_not_a_map_is_invalid_and_changes_nothing(store, project_id):
    # Given a profile whose "stats" is a string
    store.identify(project_id, ProfileUpdate("u-1", properties={"stats": "x"}), NOW)
    before = store.get_profile(project_id, "u-1")
    # When stats.visits is incremented
    with pytest.raises(InvalidRequestError) as error:
        store.add_to_property(project_id, "u-1", ["stats", "visits"], Decimal(1), LATER)
    # Then it is a 400, and the profile is unchanged
    assert error.value.status == 400
    assert store.get_profile(project_id, "u-1") == before


def test_concurrent_increments_of_a_fresh_property_are_never_lost(store, project_id):
    # Given a profile that does not exist yet
    # When 50 increments of one property race from 16 threads
    add_concurrently(store, project_id, "u-1", ["visits"])
    # Then every one of them counted
    profile = store.get_profile(project_id, "u-1")
    assert profile is not None
    assert profile["properties"] == {"visits": CONCURRENT_CALLS}


def test_concurrent_increments_of_a_fresh_nested_property_are_never_lost(store, project_id):
    # Given a profile that does not exist yet, so the "stats" map is created by the racing calls themselves
    # When 50 increments of stats.visits race from 16 threads
    add_concurrently(store, project_id, "u-1", ["stats", "visits"])
    # Then the map was created once and every increment counted
    profile = store.get_profile(project_id, "u-1")
    assert profile is not None
    assert profile["properties"] == {"stats": {"visits": CONCURRENT_CALLS}}


# -- aliases --------------------------------------------------------------------------------------------------


def test_an_alias_resolves_to_its_profile(store, project_id):
    # Given a profile
    store.identify(project_id, ProfileUpdate("u-1", first_name="Joe"), NOW)
    # When an alias is added to it
    store.add_alias(project_id, "u-1", "a-1", NOW)
    # Then the alias resolves to the profile, which lists it, and other ids resolve to themselves
    assert store.resolve_profile_id(project_id, "a-1") == "u-1"
    assert store.resolve_profile_id(project_id, "u-1") == "u-1"
    profile = store.get_profile(project_id, "u-1")
    assert profile is not None
    assert profile["aliases"] == ["a-1"]
    assert profile["firstName"] == "Joe"


def test_an_alias_of_a_missing_profile_creates_the_profile(store, project_id):
    store.add_alias(project_id, "u-1", "a-1", NOW)
    profile = store.get_profile(project_id, "u-1")
    assert profile is not None
    assert profile["aliases"] == ["a-1"]
    assert store.resolve_profile_id(project_id, "a-1") == "u-1"


def test_repeating_the_same_alias_is_idempotent(store, project_id):
    # Given an alias
    store.add_alias(project_id, "u-1", "a-1", NOW)
    # When the same pair is recorded again
    store.add_alias(project_id, "u-1", "a-1", LATER)
    # Then nothing fails and nothing is duplicated
    assert store.resolve_profile_id(project_id, "a-1") == "u-1"
    profile = store.get_profile(project_id, "u-1")
    assert profile is not None
    assert profile["aliases"] == ["a-1"]


def test_a_profile_collects_several_aliases(store, project_id):
    store.add_alias(project_id, "u-1", "a-2", NOW)
    store.add_alias(project_id, "u-1", "a-1", NOW)
    profile = store.get_profile(project_id, "u-1")
    assert profile is not None
    assert profile["aliases"] == ["a-1", "a-2"]


def test_an_alias_of_another_profile_is_a_conflict(store, project_id):
    # Given an alias of one profile
    store.add_alias(project_id, "u-1", "a-1", NOW)
    # When the same alias is claimed for another profile
    with pytest.raises(ConflictError) as error:
        store.add_alias(project_id, "u-2", "a-1", LATER)
    # Then it is a 409, the alias still resolves to the first profile, and the second profile was not written
    assert error.value.status == 409
    assert store.resolve_profile_id(project_id, "a-1") == "u-1"
    assert store.get_profile(project_id, "u-2") is None


def test_an_id_with_aliases_of_its_own_cannot_become_an_alias(store, project_id):
    # Given a profile that has an alias
    store.add_alias(project_id, "u-1", "a-1", NOW)
    # When that profile's id is made an alias of another profile
    with pytest.raises(ConflictError) as error:
        store.add_alias(project_id, "u-2", "u-1", LATER)
    # Then it is a 409 (resolution is one hop), and nothing was recorded
    assert error.value.status == 409
    assert store.resolve_profile_id(project_id, "u-1") == "u-1"
    assert store.get_profile(project_id, "u-2") is None


# -- groups ---------------------------------------------------------------------------------------------------


def test_upsert_group_creates_a_group(store, project_id):
    # Given no group, When it is upserted
    store.upsert_group(project_id, GroupUpdate("org-1", type="company", name="Acme", properties={"plan": "free"}), NOW)
    # Then it reads back with every field
    group = store.get_group(project_id, "org-1")
    assert group is not None
    assert (group["groupId"], group["type"], group["name"]) == ("org-1", "company", "Acme")
    assert group["properties"] == {"plan": "free"}
    assert group["createdAt"] == group["updatedAt"] == "2026-11-22T12:00:00.123Z"


def test_upsert_group_merges_into_an_existing_group(store, project_id):
    # Given a group
    store.upsert_group(
        project_id, GroupUpdate("org-1", type="company", name="Acme", properties={"plan": "free", "seats": 5}), NOW
    )
    # When it is upserted again, later, with new type, name and some properties
    store.upsert_group(
        project_id,
        GroupUpdate("org-1", type="workspace", name="Acme Inc", properties={"plan": "enterprise", "region": "eu"}),
        LATER,
    )
    # Then type and name are overwritten, properties merged, createdAt kept
    group = store.get_group(project_id, "org-1")
    assert group is not None
    assert (group["type"], group["name"]) == ("workspace", "Acme Inc")
    assert group["properties"] == {"plan": "enterprise", "seats": 5, "region": "eu"}
    assert group["createdAt"] == "2026-11-22T12:00:00.123Z"
    assert group["updatedAt"] == "2026-11-22T13:00:00.123Z"


def test_get_group_of_an_unknown_id_is_none(store, project_id):
    assert store.get_group(project_id, "nobody") is None


def test_add_groups_has_set_semantics(store, project_id):
    # Given a profile in groups g1 and g2
    store.add_groups(project_id, "u-1", ["g1", "g2"], NOW)
    # When it is added to g2 and g3
    store.add_groups(project_id, "u-1", ["g2", "g3"], LATER)
    # Then it is in each group once
    profile = store.get_profile(project_id, "u-1")
    assert profile is not None
    assert profile["groups"] == ["g1", "g2", "g3"]
    assert profile["createdAt"] == "2026-11-22T12:00:00.123Z"


# -- failures -------------------------------------------------------------------------------------------------


@pytest.fixture
def unreachable_store(template_env: dict[str, str], unreachable_dynamodb: Any) -> DynamoDBProfileStore:
    return DynamoDBProfileStore(template_env["ENTITIES_TABLE"], client=unreachable_dynamodb)


def test_unreachable_dynamodb_is_a_dependency_error_on_resolve(unreachable_store, project_id):
    # Given an unreachable DynamoDB, When an id is resolved, Then the caller gets the 503-class error
    with pytest.raises(DependencyUnavailableError) as error:
        unreachable_store.resolve_profile_id(project_id, "u-1")
    assert error.value.status == 503


def test_unreachable_dynamodb_is_a_dependency_error_on_identify(unreachable_store, project_id):
    # Given an unreachable DynamoDB, When a profile is identified, Then the caller gets the 503-class error
    with pytest.raises(DependencyUnavailableError) as error:
        unreachable_store.identify(project_id, ProfileUpdate("u-1", first_name="Joe"), NOW)
    assert error.value.status == 503


# -- idempotent counters ----------------------------------------------------------------------------------


ANSWER = TrackResult(device_id="d" * 32, session_id="s-1")


@pytest.mark.parametrize("path", [["visits"], ["stats", "visits"]], ids=["top-level", "nested"])
def test_a_claimed_increment_is_applied_once_per_key(store, project_id, path):
    # Given an increment claimed with a key, When it is repeated with that key and then sent with another
    store.add_to_property(project_id, "u1", path, Decimal(1), NOW, "req#k1", ANSWER)
    with pytest.raises(DuplicateEventError):
        store.add_to_property(project_id, "u1", path, Decimal(1), NOW, "req#k1", ANSWER)
    store.add_to_property(project_id, "u1", path, Decimal(1), NOW, "req#k2", ANSWER)
    # Then the repeat changed nothing
    properties = store.get_profile(project_id, "u1")["properties"]
    value = properties[path[0]] if len(path) == 1 else properties[path[0]][path[1]]
    assert value == 2


def test_a_claimed_increment_of_a_non_numeric_value_is_a_400_and_claims_nothing(store, project_id):
    store.identify(project_id, ProfileUpdate(profile_id="u1", properties={"plan": "pro"}), NOW)
    with pytest.raises(InvalidRequestError):
        store.add_to_property(project_id, "u1", ["plan"], Decimal(1), NOW, "req#k1", ANSWER)
    # the key was not used up: the same key works for a valid request
    store.add_to_property(project_id, "u1", ["visits"], Decimal(1), NOW, "req#k1", ANSWER)
    assert store.get_profile(project_id, "u1")["properties"]["visits"] == 1


def test_a_claimed_increment_through_a_value_that_is_not_a_map_is_a_400_and_claims_nothing(store, project_id):
    # Given a profile whose "stats" is a string
    store.identify(project_id, ProfileUpdate(profile_id="u1", properties={"stats": "x"}), NOW)
    # When stats.visits is incremented under a key
    with pytest.raises(InvalidRequestError) as error:
        store.add_to_property(project_id, "u1", ["stats", "visits"], Decimal(1), NOW, "req#k1", ANSWER)
    # Then it is a 400 about the property (DynamoDB refuses such a transaction outright: never a 5xx)
    assert error.value.status == 400
    assert [detail["type"] for detail in error.value.details or []] == ["not_numeric"]
    # and the key was not used up
    store.add_to_property(project_id, "u1", ["visits"], Decimal(1), NOW, "req#k1", ANSWER)
    assert store.get_profile(project_id, "u1")["properties"]["visits"] == 1


# -- full profiles ---------------------------------------------------------------------------------------------
# A 5xx means a dependency is down, never that the data is full: a profile (or group) at DynamoDB's 400 KB item
# limit answers 409 naming the limit, and identify stops adding to a profile once it has passed its bound.

PROFILE_BOUND_KB = 256  # docs/API.md, Limits: what an identify may still add to
FILL_CHUNKS = (3_990, 1_000, 250, 60, 15, 4, 1)  # bytes of each filler value, largest first


def fill(dynamodb: Any, table: str, key: dict[str, Any], until_kb: float | None = None) -> int:
    """Pad the item with filler attributes, straight through DynamoDB: to just past `until_kb`, or (None) until not
    even a one-byte attribute fits. Answers the item's size in KB units as DynamoDB last reported it."""
    units, index = 0.0, 0
    for chunk in FILL_CHUNKS:
        while until_kb is None or units <= until_kb:
            index += 1
            try:
                response = dynamodb.update_item(
                    TableName=table,
                    Key=key,
                    UpdateExpression="SET #a = :v",
                    ExpressionAttributeNames={"#a": f"p:fill{index}"},
                    ExpressionAttributeValues={":v": {"S": "x" * chunk}},
                    ReturnConsumedCapacity="TOTAL",
                )
            except ClientError as exc:
                assert "exceeded the maximum allowed size" in exc.response["Error"]["Message"]
                break
            units = response["ConsumedCapacity"]["CapacityUnits"]
        if until_kb is not None:
            break
    return int(units)


@pytest.fixture
def full_profile(store, dynamodb, template_env, project_id) -> str:
    """A profile that DynamoDB's item limit leaves no room in, with a numeric counter and a `stats` map."""
    store.identify(project_id, ProfileUpdate("full", first_name="Joe", properties={"n": 1, "stats": {"a": 1}}), NOW)
    fill(dynamodb, template_env["ENTITIES_TABLE"], {"pk": {"S": f"{project_id}#profile#full"}})
    return "full"


def assert_full(error: pytest.ExceptionInfo[ConflictError], kind: str, limit: str) -> None:
    assert error.value.status == 409
    assert error.value.message.startswith(f"The {kind} is full")
    assert limit in error.value.message
    assert error.value.details is not None
    assert [detail["type"] for detail in error.value.details] == [f"{kind}_full"]


FULL_PROFILE_WRITES = {
    "increment": lambda store, project, profile: store.add_to_property(project, profile, ["visits"], Decimal(1), LATER),
    "increment of an existing counter": lambda store, project, profile: store.add_to_property(
        project, profile, ["n"], Decimal(1000000), LATER
    ),
    "nested increment": lambda store, project, profile: store.add_to_property(
        project, profile, ["new", "visits"], Decimal(1), LATER
    ),
    "nested increment in an existing map": lambda store, project, profile: store.add_to_property(
        project, profile, ["stats", "b"], Decimal(1), LATER
    ),
    "claimed increment": lambda store, project, profile: store.add_to_property(
        project, profile, ["visits"], Decimal(1), LATER, "req#full-1", ANSWER
    ),
    "claimed nested increment": lambda store, project, profile: store.add_to_property(
        project, profile, ["new", "visits"], Decimal(1), LATER, "req#full-2", ANSWER
    ),
    "alias": lambda store, project, profile: store.add_alias(project, profile, "another-id-of-this-profile", LATER),
    "assign_group": lambda store, project, profile: store.add_groups(project, profile, ["g-1", "g-2"], LATER),
    "identify": lambda store, project, profile: store.identify(
        project, ProfileUpdate(profile, properties={"plan": "pro"}), LATER
    ),
}


@pytest.mark.parametrize("write", list(FULL_PROFILE_WRITES))
def test_a_write_to_a_profile_at_the_item_limit_is_a_409_naming_the_limit(store, project_id, full_profile, write):
    # Given a profile DynamoDB's 400 KB item limit leaves no room in
    before = store.get_profile(project_id, full_profile)
    # When a write would make it larger
    with pytest.raises(ConflictError) as error:
        FULL_PROFILE_WRITES[write](store, project_id, full_profile)
    # Then it is a 409 saying the profile is full and naming the limit (never a 503, never "not numeric"),
    # and nothing changed
    assert_full(error, "profile", "400 KB")
    assert store.get_profile(project_id, full_profile) == before


def test_a_claimed_increment_refused_for_a_full_profile_claims_nothing(store, project_id, full_profile):
    # Given a full profile whose claimed increment was refused
    with pytest.raises(ConflictError):
        store.add_to_property(project_id, full_profile, ["visits"], Decimal(1), LATER, "req#k-full", ANSWER)
    # When the same key is used for a profile with room
    store.add_to_property(project_id, "roomy", ["visits"], Decimal(1), LATER, "req#k-full", ANSWER)
    # Then it is applied: the refusal did not use the key up
    assert store.get_profile(project_id, "roomy")["properties"] == {"visits": 1}


def test_an_identify_is_refused_once_the_profile_has_passed_its_size_bound(store, dynamodb, template_env, project_id):
    # Given a profile identified past its bound (the identify that crosses it is still stored)
    big = {f"k{index}": "x" * 4_000 for index in range(PROFILE_BOUND_KB // 4 + 2)}
    store.identify(project_id, ProfileUpdate("u-big", properties=big), NOW)
    assert store.get_profile(project_id, "u-big")["properties"] == big
    # When it is identified again, even with one small property
    with pytest.raises(ConflictError) as error:
        store.identify(project_id, ProfileUpdate("u-big", properties={"plan": "pro"}), LATER)
    # Then it is a 409 naming the bound, and the property was not stored
    assert_full(error, "profile", f"{PROFILE_BOUND_KB} KB")
    assert "plan" not in store.get_profile(project_id, "u-big")["properties"]


def test_a_profile_past_its_size_bound_still_takes_counters_aliases_and_groups(store, project_id):
    # Given a profile identified past its bound, so that identify refuses it
    big = {f"k{index}": "x" * 4_000 for index in range(PROFILE_BOUND_KB // 4 + 2)}
    store.identify(project_id, ProfileUpdate("u-big", properties=big), NOW)
    with pytest.raises(ConflictError):
        store.identify(project_id, ProfileUpdate("u-big", first_name="Joe"), LATER)
    # When it gets counters, an alias and groups
    store.add_to_property(project_id, "u-big", ["visits"], Decimal(1), LATER)
    store.add_to_property(project_id, "u-big", ["stats", "visits"], Decimal(1), LATER)
    store.add_alias(project_id, "u-big", "a-big", LATER)
    store.add_groups(project_id, "u-big", ["g-1"], LATER)
    # Then all of them are stored: the bound kept room for them below DynamoDB's item limit
    profile = store.get_profile(project_id, "u-big")
    assert (profile["properties"]["visits"], profile["properties"]["stats"]) == (1, {"visits": 1})
    assert (profile["aliases"], profile["groups"]) == (["a-big"], ["g-1"])


def test_identify_below_the_size_bound_is_never_refused_however_often_it_repeats(store, project_id):
    # Given a profile of about half the bound
    half = {f"k{index}": "x" * 4_000 for index in range(PROFILE_BOUND_KB // 8)}
    # When the same identify is sent many times (overwrites do not add up)
    for _ in range(5):
        store.identify(project_id, ProfileUpdate("u-half", properties=half), NOW)
    # Then every one is stored
    store.identify(project_id, ProfileUpdate("u-half", first_name="Joe"), LATER)
    assert store.get_profile(project_id, "u-half")["firstName"] == "Joe"


def test_a_group_at_the_item_limit_is_a_409_naming_the_limit(store, dynamodb, template_env, project_id):
    # Given a group DynamoDB's item limit leaves no room in
    store.upsert_group(project_id, GroupUpdate("org-full", type="company", name="Acme"), NOW)
    fill(dynamodb, template_env["ENTITIES_TABLE"], {"pk": {"S": f"{project_id}#group#org-full"}})
    # When it is upserted with a new property
    with pytest.raises(ConflictError) as error:
        store.upsert_group(
            project_id, GroupUpdate("org-full", type="company", name="Acme", properties={"region": "eu-west-1"}), LATER
        )
    # Then it is a 409 saying the group is full
    assert_full(error, "group", "400 KB")
