"""Which address is the user's: OpenPanel's header order for a server with its secret, non-public addresses
skipped; the gateway's source IP for everyone else."""

from __future__ import annotations

import pytest

from beacon.domain.client_ip import HeaderTrust, normalize_address, resolve_client_ip

GATEWAY = "198.51.100.20"
SERVER = HeaderTrust(secret_auth=True)  # the forwarded-IP headers count only from a caller with its secret


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
    resolved = resolve_client_ip(headers, source_ip, override, SERVER)
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
    answers = [
        resolve_client_ip({"x-client-ip": raw}, GATEWAY, trust=SERVER) for raw in ("203.0.113.8", padded) for _ in "ab"
    ]

    # Then every answer is the same address
    assert {(answer.address, answer.from_gateway) for answer in answers} == {("203.0.113.8", False)}


@pytest.mark.parametrize(
    "headers",
    [
        {"x-forwarded-for": "8.8.8.8, 198.51.100.20"},
        {"x-forwarded-for": "8.8.8.8"},
        {"x-client-ip": "8.8.8.8"},
        {"openpanel-client-ip": "8.8.8.8"},
        {"openpanel-client-ip": "8.8.8.8", "x-client-ip": "8.8.4.4", "x-forwarded-for": "1.1.1.1"},
    ],
)
def test_without_the_secret_forwarded_ip_headers_do_not_count(headers):
    # Given a request without the client secret (a browser) that names another address in a forwarded-IP header
    # When its address is resolved, Then it is the address the gateway saw
    resolved = resolve_client_ip(headers, GATEWAY)
    assert (resolved.address, resolved.from_gateway) == (GATEWAY, True)


VIA_DISTRIBUTION = HeaderTrust(via_distribution=True)
EDGE_IP = "130.176.0.1"  # what API Gateway sees behind Beacon's distribution: a CloudFront edge


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [
        pytest.param("198.51.100.10:46532", "198.51.100.10", id="ipv4"),
        pytest.param("2001:db8::8a2e:370:7334:46532", "2001:db8::8a2e:370:7334", id="ipv6-unbracketed"),
        pytest.param("[2001:db8::1]:443", "2001:db8::1", id="ipv6-bracketed"),
        pytest.param("::ffff:198.51.100.10:443", "198.51.100.10", id="ipv4-mapped"),
        pytest.param("198.51.100.10", EDGE_IP, id="no-port"),
        pytest.param("not-an-address:443", EDGE_IP, id="garbage"),
        pytest.param("198.51.100.10:https", EDGE_IP, id="non-numeric-port"),
    ],
)
def test_through_the_distribution_cloudfronts_viewer_address_is_the_viewer(viewer, expected):
    # Given a request proved to come through Beacon's distribution, with CloudFront's viewer address
    headers = {"cloudfront-viewer-address": viewer, "x-forwarded-for": "8.8.8.8, 198.51.100.10"}

    # When its address is resolved, Then the viewer address wins over the edge's source IP and the browser's header
    resolved = resolve_client_ip(headers, EDGE_IP, trust=VIA_DISTRIBUTION)
    assert (resolved.address, resolved.from_gateway) == (expected, True)


@pytest.mark.parametrize("trust", [HeaderTrust(), SERVER], ids=["browser", "server"])
def test_cloudfront_viewer_address_is_never_read_without_proof_of_the_distribution(trust):
    # Given a request that carries CloudFront-Viewer-Address but did not prove it came through the distribution
    # When its address is resolved, Then the header is ignored, whoever sent it
    resolved = resolve_client_ip({"cloudfront-viewer-address": "8.8.8.8:443"}, GATEWAY, trust=trust)
    assert resolved.address == GATEWAY


def test_a_server_behind_the_distribution_still_forwards_its_users_address():
    # Given a server with its secret, through the distribution, forwarding its user's address
    headers = {"cloudfront-viewer-address": "198.51.100.10:443", "openpanel-client-ip": "203.0.113.9"}
    trust = HeaderTrust(secret_auth=True, via_distribution=True)

    # When its address is resolved, Then it is the user's, not the viewer's (the server's own)
    resolved = resolve_client_ip(headers, EDGE_IP, trust=trust)
    assert (resolved.address, resolved.from_gateway) == ("203.0.113.9", False)
