"""The egress guard: refused addresses never see a connection (a canary listener proves it), every
redirect hop is checked, the checked address is the one connected to, and the allowlist opens
exactly what it names."""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from integrations.egress import (
    EgressPolicy,
    EgressRefused,
    OutboundError,
    OutboundRequest,
    check_url,
    parse_entry,
    parse_ip_literal,
    refusal_reason,
    send,
)
from tests.integrations.support import Canary, Received, Reply, canary, local_server, self_signed_certificate

NO_POLICY = EgressPolicy()


def resolver_of(table: dict[str, Sequence[str]], calls: list[str] | None = None):  # type: ignore[no-untyped-def]
    """A resolver that knows only ``table`` (tests never touch real DNS)."""

    def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(table[host])

    return resolve


def refused(url: str, policy: EgressPolicy = NO_POLICY, resolver=None) -> EgressRefused:  # type: ignore[no-untyped-def]
    with pytest.raises(EgressRefused) as caught:
        send(OutboundRequest("GET", url, timeout_s=5), policy=policy, resolver=resolver or resolver_of({}))
    return caught.value


# --- the canary proves that raw connections to these forms do reach it ------------------------


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0177.0.0.1", "0x7f.1", "0.0.0.0", "127.0.0.1"])
def test_without_the_guard_these_spellings_reach_the_loopback_canary(host: str) -> None:
    with canary() as listener:
        socket.create_connection((host, listener.port), timeout=2).close()
        assert listener.connections() == 1


# --- refused destinations ---------------------------------------------------------------------

LOOPBACK_SPELLINGS = [
    ("127.0.0.1", "loopback"),
    ("127.1", "loopback"),
    ("2130706433", "loopback"),
    ("0177.0.0.1", "loopback"),
    ("0x7f.1", "loopback"),
    ("0x7f000001", "loopback"),
    ("0.0.0.0", "unspecified"),
    ("[::1]", "loopback"),
    ("[::]", "unspecified"),
    ("[::ffff:127.0.0.1]", "IPv6 form of a loopback"),
    ("[::ffff:7f00:1]", "IPv6 form of a loopback"),
    ("[::127.0.0.1]", "IPv6 form of a loopback"),
    ("[64:ff9b::127.0.0.1]", "IPv6 form of a loopback"),
    ("[2002:7f00:1::]", "IPv6 form of a loopback"),
]


@pytest.mark.parametrize(("host", "reason"), LOOPBACK_SPELLINGS)
def test_loopback_in_every_spelling_is_refused_and_never_connected(host: str, reason: str) -> None:
    with canary() as listener:
        error = refused(f"http://{host}:{listener.port}/secret")

        assert error.code == "address_refused"
        assert f"it is a {reason} address" in error.message
        assert listener.connections() == 0


def test_localhost_names_are_refused_without_asking_the_resolver() -> None:
    calls: list[str] = []
    with canary() as listener:
        for host in ("localhost", "localhost.", "LOCALHOST", "api.localhost"):
            error = refused(f"http://{host}:{listener.port}/", resolver=resolver_of({}, calls))
            assert error.code == "address_refused"
            assert "loopback name" in error.message
        assert listener.connections() == 0
    assert calls == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/iam/", "cloud metadata"),
        ("http://[fd00:ec2::254]/latest/", "cloud metadata"),
        ("http://[::ffff:169.254.169.254]/", "IPv6 form of a cloud metadata"),
        ("http://169.254.1.1/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://10.0.0.1/", "private"),
        ("http://10.255.255.255:8080/", "private"),
        ("http://172.16.0.1/", "private"),
        ("http://172.31.255.254/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://[::ffff:10.0.0.1]/", "IPv6 form of a private"),
        ("http://[fd12:3456::1]/", "private (unique local)"),
        ("http://100.64.0.1/", "shared (CGNAT)"),
        ("http://100.127.255.254/", "shared (CGNAT)"),
        ("http://224.0.0.1/", "multicast"),
        ("http://[ff02::1]/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://255.255.255.255/", "broadcast"),
        ("http://192.0.2.10/", "reserved"),
    ],
)
def test_private_metadata_and_reserved_addresses_are_refused(url: str, reason: str) -> None:
    error = refused(url)

    assert error.code == "address_refused"
    assert f"it is a {reason} address" in error.message


def test_public_addresses_pass_the_check() -> None:
    for text in (
        "93.184.216.34",
        "8.8.8.8",
        "2606:4700::1111",
        "::ffff:8.8.8.8",
        "172.32.0.1",
        "100.128.0.1",
    ):
        assert refusal_reason(ipaddress.ip_address(text)) is None, text


def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    calls: list[str] = []
    resolver = resolver_of({"intranet.example.com": ["10.20.30.40"]}, calls)

    error = refused("https://intranet.example.com/admin", resolver=resolver)

    assert error.code == "address_refused"
    assert error.message.startswith(
        "Refused to connect to intranet.example.com (10.20.30.40): it is a private"
    )
    assert calls == ["intranet.example.com"]


def test_a_name_with_one_private_address_among_public_ones_is_refused() -> None:
    resolver = resolver_of({"mixed.example.com": ["93.184.216.34", "127.0.0.1"]})

    error = refused("http://mixed.example.com/", resolver=resolver)

    assert "(127.0.0.1): it is a loopback address" in error.message


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://127.0.0.1:{port}/_SET",
        "ftp://example.com/",
        "dict://127.0.0.1:{port}/",
    ],
)
def test_only_http_and_https_are_allowed(url: str) -> None:
    with canary() as listener:
        error = refused(url.format(port=listener.port))

        assert error.code == "scheme_not_allowed"
        assert error.message.startswith("Only http and https URLs are allowed")
        assert listener.connections() == 0


@pytest.mark.parametrize(
    "url", ["http://user:pw@example.com/", "http:///nohost", "http://exa mple.com/", "http://1.2.3.4.5/"]
)
def test_malformed_urls_and_inline_credentials_are_refused(url: str) -> None:
    assert refused(url).code == "invalid_url"


def test_legacy_ipv4_spellings_parse_like_resolvers_read_them() -> None:
    assert str(parse_ip_literal("127.1")) == "127.0.0.1"
    assert str(parse_ip_literal("2130706433")) == "127.0.0.1"
    assert str(parse_ip_literal("0177.0.0.1")) == "127.0.0.1"
    assert str(parse_ip_literal("0x7f.1")) == "127.0.0.1"
    assert str(parse_ip_literal("10.1.258")) == "10.1.1.2"
    assert parse_ip_literal("example.com") is None
    with pytest.raises(ValueError):
        parse_ip_literal("256.1.1.1")


# --- redirects: every hop is checked --------------------------------------------------------------


def test_a_public_looking_url_redirecting_to_loopback_is_refused_at_the_hop() -> None:
    policy = EgressPolicy.from_entries(["public.example.com"])
    resolver = resolver_of({"public.example.com": ["127.0.0.1"]})
    with local_server() as server, canary() as listener:
        server.routes["/start"] = lambda request: Reply(
            302, {"Location": f"http://127.0.0.1:{listener.port}/internal"}
        )

        with pytest.raises(EgressRefused) as caught:
            send(
                OutboundRequest("GET", f"http://public.example.com:{server.port}/start"),
                policy=policy,
                resolver=resolver,
            )

        assert caught.value.code == "address_refused"
        assert "Refused to connect to 127.0.0.1: it is a loopback address" in caught.value.message
        assert server.paths() == ["/start"]
        assert server.received[0].headers["host"] == f"public.example.com:{server.port}"
        assert listener.connections() == 0


@pytest.mark.parametrize(
    "target", ["http://localhost:{port}/", "http://[::1]:{port}/", "http://0x7f.1:{port}/"]
)
def test_redirects_to_other_loopback_spellings_are_refused_too(target: str) -> None:
    policy = EgressPolicy.from_entries(["public.example.com"])
    resolver = resolver_of({"public.example.com": ["127.0.0.1"]})
    with local_server() as server, canary() as listener:
        server.routes["/start"] = lambda request: Reply(307, {"Location": target.format(port=listener.port)})

        with pytest.raises(EgressRefused):
            send(
                OutboundRequest("GET", f"http://public.example.com:{server.port}/start"),
                policy=policy,
                resolver=resolver,
            )

        assert listener.connections() == 0


def redirect_to(location: str) -> Callable[[Received], Reply]:
    return lambda request: Reply(302, {"Location": location})


def test_redirects_beyond_the_cap_are_an_error_and_the_extra_hop_is_not_requested() -> None:
    policy = EgressPolicy.from_entries(["127.0.0.1"])
    with local_server() as server:
        for index in range(5):
            server.routes[f"/hop{index}"] = redirect_to(f"/hop{index + 1}")

        with pytest.raises(OutboundError) as caught:
            send(OutboundRequest("GET", server.url("/hop0"), max_redirects=2), policy=policy)

        assert caught.value.kind == "too_many_redirects"
        assert server.paths() == ["/hop0", "/hop1", "/hop2"]


def test_credentials_are_dropped_when_a_redirect_leaves_the_origin() -> None:
    policy = EgressPolicy.from_entries(["127.0.0.1", "other.example.com"])
    resolver = resolver_of({"other.example.com": ["127.0.0.1"]})
    with local_server() as server:
        server.routes["/start"] = lambda request: Reply(
            302, {"Location": f"http://other.example.com:{server.port}/landed"}
        )
        server.routes["/landed"] = lambda request: Reply(200, {}, b"ok")

        response = send(
            OutboundRequest(
                "GET",
                server.url("/start"),
                headers=[("Authorization", "Bearer s3cret-token"), ("X-Api-Key", "k3y"), ("X-Plain", "1")],
                sensitive_headers=frozenset({"x-api-key"}),
            ),
            policy=policy,
            resolver=resolver,
        )

        assert response.status == 200 and response.redirects == 1
        first, second = server.received
        assert first.headers["authorization"] == "Bearer s3cret-token" and first.headers["x-api-key"] == "k3y"
        assert "authorization" not in second.headers and "x-api-key" not in second.headers
        assert second.headers["x-plain"] == "1"


# --- pinning and the allowlist -------------------------------------------------------------------


def test_the_checked_address_is_the_one_connected_to_and_the_name_is_sent_as_host() -> None:
    """`pinned.test` exists only in the injected resolver: the request can only succeed if the
    client connects to the address the guard checked instead of resolving the name again."""
    calls: list[str] = []
    policy = EgressPolicy.from_entries(["pinned.test"])
    with local_server() as server:
        server.routes["/where"] = lambda request: Reply(200, {}, request.headers["host"].encode())

        response = send(
            OutboundRequest("GET", f"http://pinned.test:{server.port}/where"),
            policy=policy,
            resolver=resolver_of({"pinned.test": ["127.0.0.1"]}, calls),
        )

    assert response.status == 200
    assert response.body == f"pinned.test:{server.port}".encode()
    assert calls == ["pinned.test"]


def test_tls_is_verified_against_the_name_while_connecting_to_the_pinned_address(tmp_path: Path) -> None:
    """The certificate names only `secure.test`; the connection goes to 127.0.0.1. The handshake
    succeeds only because SNI and verification use the name, and fails for any other name."""
    certificate, key = self_signed_certificate(tmp_path, "secure.test")
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(certificate, key)
    trust = ssl.create_default_context(cafile=str(certificate))
    policy = EgressPolicy.from_entries(["secure.test", "other.test"])
    resolver = resolver_of({"secure.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    with local_server(tls=server_tls) as server:
        server.routes["/hello"] = lambda request: Reply(200, {}, request.headers["host"].encode())

        response = send(
            OutboundRequest("GET", f"https://secure.test:{server.port}/hello", verify=trust),
            policy=policy,
            resolver=resolver,
        )
        with pytest.raises(OutboundError) as caught:
            send(
                OutboundRequest("GET", f"https://other.test:{server.port}/hello", verify=trust),
                policy=policy,
                resolver=resolver,
            )

    assert (response.status, response.body) == (200, f"secure.test:{server.port}".encode())
    assert caught.value.kind == "connection"
    assert len(server.received) == 1


def test_https_keeps_the_name_for_sni() -> None:
    destination = check_url(
        "https://api.example.com:8443/v1?x=1", NO_POLICY, resolver_of({"api.example.com": ["93.184.216.34"]})
    )

    assert destination.connect_url == "https://93.184.216.34:8443/v1?x=1"
    assert destination.host_header == "api.example.com:8443"
    assert destination.sni_hostname == "api.example.com"


def test_an_allowed_name_may_be_private_but_never_metadata() -> None:
    policy = EgressPolicy.from_entries(["internal.corp", "*.svc.corp"])

    assert str(
        check_url("http://internal.corp/", policy, resolver_of({"internal.corp": ["10.0.0.5"]})).address
    ) == ("10.0.0.5")
    assert (
        check_url("http://db.svc.corp/", policy, resolver_of({"db.svc.corp": ["10.0.0.6"]})).host
        == "db.svc.corp"
    )
    with pytest.raises(EgressRefused) as caught:
        check_url("http://internal.corp/", policy, resolver_of({"internal.corp": ["169.254.169.254"]}))
    assert "cloud metadata" in caught.value.message
    with pytest.raises(EgressRefused):
        check_url(
            "http://svc.corp.evil.example/", policy, resolver_of({"svc.corp.evil.example": ["10.0.0.7"]})
        )


def test_allowed_blocks_open_exactly_their_addresses() -> None:
    policy = EgressPolicy.from_entries(["10.1.2.0/24", "169.254.169.254"])

    assert str(check_url("http://10.1.2.99/", policy).address) == "10.1.2.99"
    assert str(check_url("http://[::ffff:10.1.2.3]/", policy).address) == "::ffff:a01:203"
    assert str(check_url("http://169.254.169.254/", policy).address) == "169.254.169.254"
    with pytest.raises(EgressRefused):
        check_url("http://10.1.3.1/", policy)


@pytest.mark.parametrize("entry", ["*", "0.0.0.0/0", "::/0", "", "not a host", "http://x.com/"])
def test_allowlist_entries_that_mean_everything_or_nothing_are_rejected(entry: str) -> None:
    with pytest.raises(ValueError):
        parse_entry(entry)


# --- responses ------------------------------------------------------------------------------------


def test_the_response_is_cut_off_at_the_size_cap() -> None:
    policy = EgressPolicy.from_entries(["127.0.0.1"])
    with local_server() as server:
        server.routes["/big"] = lambda request: Reply(200, {}, b"x" * 5000)
        server.routes["/small"] = lambda request: Reply(
            200, {"Content-Type": "application/json"}, b'{"a": 1}'
        )

        with pytest.raises(OutboundError) as caught:
            send(OutboundRequest("GET", server.url("/big"), max_response_bytes=4096), policy=policy)
        small = send(OutboundRequest("GET", server.url("/small"), max_response_bytes=4096), policy=policy)

    assert caught.value.kind == "too_large"
    assert "5000 bytes; the limit is 4096" in caught.value.message
    assert json.loads(small.body) == {"a": 1}


def test_a_closed_port_is_a_connection_error() -> None:
    policy = EgressPolicy.from_entries(["127.0.0.1"])
    listener = Canary()
    port = listener.port
    listener.close()

    with pytest.raises(OutboundError) as caught:
        send(OutboundRequest("GET", f"http://127.0.0.1:{port}/"), policy=policy)

    assert caught.value.kind == "connection"


def test_a_request_reaches_the_server_with_method_body_and_headers() -> None:
    policy = EgressPolicy.from_entries(["127.0.0.1"])
    seen: list[Received] = []
    with local_server() as server:

        def record(request: Received) -> Reply:
            seen.append(request)
            return Reply(201, {"X-Id": "7"}, b"made")

        server.routes["/post"] = record

        response = send(
            OutboundRequest(
                "POST", server.url("/post?a=1"), headers=[("Content-Type", "text/plain")], content=b"hi"
            ),
            policy=policy,
        )

    assert (response.status, response.body, dict(response.headers)["x-id"]) == (201, b"made", "7")
    assert (seen[0].method, seen[0].path, seen[0].body) == ("POST", "/post?a=1", b"hi")
    assert seen[0].headers["host"] == f"127.0.0.1:{server.port}"
