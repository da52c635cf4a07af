"""Which address is the user's: OpenPanel's header order, non-public addresses skipped."""

from __future__ import annotations

import pytest

from beacon.domain.client_ip import normalize_address, resolve_client_ip

GATEWAY = "198.51.100.20"


@pytest.mark.parametrize(
    ("headers", "source_ip", "override", "expected", "from_gateway"),
    [
        pytest.param({}, GATEWAY, None, GATEWAY, True, id="gateway-source-ip"),
        pytest.param(
            {"x-forwarded-for": f"{GATEWAY}, 130.176.0.1"}, GATEWAY, None, GATEWAY, True, id="cloudfront-chain"
        ),
        pytest.param(
            {"x-forwarded-for": "203.0.113.7, 192.0.2.1"}, GATEWAY, None, "203.0.113.7", False, id="forwarded-first"
        ),
        pytest.param(
            {"x-forwarded-for": "10.1.2.3, 203.0.113.7"}, GATEWAY, None, GATEWAY, True, id="private-first-entry-skipped"
        ),
        pytest.param(
            {"openpanel-client-ip": "203.0.113.9", "x-client-ip": "203.0.113.8"},
            GATEWAY,
            None,
            "203.0.113.9",
            False,
            id="openpanel-header-first",
        ),
        pytest.param(
            {"openpanel-client-ip": "192.168.1.4", "x-client-ip": "203.0.113.8"},
            GATEWAY,
            None,
            "203.0.113.8",
            False,
            id="private-skipped",
        ),
        pytest.param({"x-client-ip": "127.0.0.1"}, GATEWAY, None, GATEWAY, True, id="loopback-skipped"),
        pytest.param({"x-client-ip": "169.254.10.1"}, GATEWAY, None, GATEWAY, True, id="link-local-skipped"),
        pytest.param({"x-client-ip": "100.64.3.4"}, GATEWAY, None, GATEWAY, True, id="carrier-nat-skipped"),
        pytest.param({"x-client-ip": "fe80::1"}, GATEWAY, None, GATEWAY, True, id="ipv6-link-local-skipped"),
        pytest.param({"x-client-ip": "fd00::5"}, GATEWAY, None, GATEWAY, True, id="ipv6-unique-local-skipped"),
        pytest.param({"x-client-ip": "2001:db8::42"}, GATEWAY, None, "2001:db8::42", False, id="ipv6"),
        pytest.param({"x-client-ip": "::ffff:203.0.113.5"}, GATEWAY, None, "203.0.113.5", False, id="ipv4-mapped-ipv6"),
        pytest.param({}, "::ffff:198.51.100.20", None, GATEWAY, True, id="mapped-source-ip"),
        pytest.param({"x-client-ip": "not-an-ip"}, GATEWAY, None, GATEWAY, True, id="garbage-skipped"),
        pytest.param({"x-client-ip": "203.0.113.8"}, GATEWAY, "192.0.2.77", "192.0.2.77", False, id="override-wins"),
        pytest.param({}, GATEWAY, "10.0.0.1", GATEWAY, True, id="private-override-skipped"),
        pytest.param({}, "127.0.0.1", None, "127.0.0.1", True, id="local-development"),
    ],
)
def test_client_ip_resolution(headers, source_ip, override, expected, from_gateway):
    resolved = resolve_client_ip(headers, source_ip, override)
    assert (resolved.address, resolved.from_gateway) == (expected, from_gateway)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("203.0.113.7:443", "203.0.113.7"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("", None),
    ],
)
def test_addresses_with_ports_and_brackets_are_normalized(raw, expected):
    assert normalize_address(raw) == expected


def test_the_same_address_resolves_the_same_from_the_cache_and_past_its_bound() -> None:
    # Given an address as sent, and the same address padded beyond what the address cache keeps
    padded = " " * 100 + "203.0.113.8" + " " * 100

    # When each is resolved twice
    answers = [resolve_client_ip({"x-client-ip": raw}, GATEWAY) for raw in ("203.0.113.8", padded) for _ in "ab"]

    # Then every answer is the same address
    assert {(answer.address, answer.from_gateway) for answer in answers} == {("203.0.113.8", False)}
