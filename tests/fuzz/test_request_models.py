"""The wire contract under arbitrary input: parsing either yields a request or raises pydantic's
ValidationError (which the API turns into a 400), and an accepted event always serializes to a DynamoDB item."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from beacon.domain.entities import Event
from beacon.errors import BeaconError
from beacon.gateway.responses import error_response
from beacon.gateway.validation import validation_rejection
from beacon.models.bounds import bound_properties
from beacon.models.requests import (
    TRACK_REQUEST_ADAPTER,
    BatchRequest,
    TrackEventRequest,
    parse_batch_request,
    parse_track_request,
)
from beacon.store.events import event_to_item
from tests.fuzz.strategies import (
    batch_bodies,
    examples,
    json_values,
    oversized_properties,
    track_bodies,
    track_requests,
)


def storable(request: TrackEventRequest) -> dict[str, Any]:
    """The DynamoDB item the event store would write for this request (serialization is pure, no I/O)."""
    payload, now = request.payload, datetime.now(UTC)
    event = Event(
        id="0" * 28,
        project_id="fuzz",
        client_id="fuzz-client",
        name=payload.name,
        properties=payload.properties.ordinary,
        profile_id=payload.profileId,
        groups=payload.groups,
        device_id="d" * 32,
        session_id="s",
        created_at=now,
        received_at=now,
        revenue=payload.properties.revenue,
        device=payload.properties.device_overrides,
    )
    return event_to_item(event, retention_days=400)


def assert_api_error_shape(error: ValidationError) -> None:
    """What the handler would answer: a 400 in the API's error shape, serializable as JSON."""
    response = error_response(validation_rejection(error))
    assert response.status == 400
    assert json.loads(json.dumps(response.model_dump(exclude_none=True)))["error"]


@settings(max_examples=examples(200))
@given(body=track_bodies())
def test_track_body_is_a_request_or_a_validation_error(body: bytes) -> None:
    try:
        request = parse_track_request(body)
    except ValidationError as error:
        assert_api_error_shape(error)
        return
    if isinstance(request, TrackEventRequest):
        assert storable(request)["name"] == {"S": request.payload.name}


@settings(max_examples=examples(100))
@given(properties=oversized_properties)
def test_oversized_properties_are_stored_cut_never_refused(properties: dict[str, Any]) -> None:
    # Given properties past any of the bounds, when a track event carrying them is parsed
    request = TRACK_REQUEST_ADAPTER.validate_python(
        {"type": "track", "payload": {"name": "big", "properties": properties}}
    )

    # Then it is accepted and serializes to a DynamoDB item; the cut is a fixed point (cutting again changes nothing)
    assert isinstance(request, TrackEventRequest)
    assert storable(request)["name"] == {"S": "big"}
    stored = request.payload.properties.ordinary
    cut = stored.pop("__truncated", [])
    assert bound_properties(stored) == stored
    assert len(cut) <= 50


@settings(max_examples=examples(150))
@given(body=batch_bodies())
def test_batch_body_is_a_batch_a_validation_error_or_a_4xx(body: bytes) -> None:
    try:
        batch = parse_batch_request(body)
    except ValidationError as error:
        assert_api_error_shape(error)
        return
    except BeaconError as error:  # invalid JSON (400), more than 1000 events (413)
        assert 400 <= error.status < 500 and error.message
        return
    assert isinstance(batch, BatchRequest)


@settings(max_examples=examples(200))
@given(item=st.one_of(track_requests, json_values))
def test_batch_item_is_a_request_or_a_validation_error(item: Any) -> None:
    # A batch validates its items from Python values (NaN and infinities included, as json.loads makes them)
    try:
        request = TRACK_REQUEST_ADAPTER.validate_python(item)
    except ValidationError as error:
        assert_api_error_shape(error)
        return
    if isinstance(request, TrackEventRequest):
        assert storable(request)["name"] == {"S": request.payload.name}
