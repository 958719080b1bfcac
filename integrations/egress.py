"""The egress guard: the one door for every outbound request Flowdeck makes on a user's behalf.

A workflow author chooses URLs, and templates can build them from run inputs, so without a guard
an `http` node would reach whatever the worker can reach: the cloud metadata service, Redis,
Postgres, the admin interfaces on the private network. :func:`send` therefore

- allows only ``http`` and ``https`` and refuses credentials inside URLs;
- resolves the host itself and refuses the request when *any* address of the name is loopback,
  private (RFC 1918, IPv6 unique local), link-local, CGNAT (100.64/10), a metadata address,
  unspecified, multicast or otherwise not globally routable — including IPv4-mapped, IPv4-compatible,
  NAT64 and 6to4 IPv6 forms of a refused IPv4 address, and the legacy numeric spellings of IPv4
  (``127.1``, ``2130706433``, ``0177.0.0.1``, ``0x7f.1``);
- connects to the address it checked (the URL's host is replaced by that address; the ``Host``
  header and TLS SNI keep the name), so a second DNS answer cannot swap in another address
  (DNS rebinding);
- follows redirects itself, checking every hop the same way, up to the caller's cap;
- stops reading a response at the caller's size cap, and ignores proxy settings from the
  environment (a proxy would connect on our behalf, out of the guard's sight).

Admins open specific hosts with the allowlist: ``EgressAllow`` rows (Django admin) and the
``FLOWDECK_EGRESS_ALLOW`` setting, each entry a host name, ``*.domain``, an IP address or a CIDR
block. An allowed *name* may resolve to private addresses, but never to a metadata address; only an
allowed address or block that covers a metadata address opens it.

Provider base URLs (agents.providers) are set by admins and trusted: they do not go through here.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

# httpx2 logs every request's full URL at INFO; a query-parameter credential would land in the logs.
logging.getLogger("httpx2").setLevel(logging.WARNING)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: ``resolver(host, port)`` → the host's addresses as strings; tests inject one.
Resolver = Callable[[str, int], Sequence[str]]

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: Headers that carry credentials: dropped when a redirect leaves the origin.
ALWAYS_SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
READ_CHUNK = 64 * 1024

METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack, …
        ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
        ipaddress.ip_address("fd00:ec2::254"),  # AWS IPv6
    }
)

#: Refused IPv4 blocks, most specific meaning first (the first match names the reason).
_REFUSED_V4: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(block), reason)
    for block, reason in (
        ("0.0.0.0/8", "unspecified"),
        ("127.0.0.0/8", "loopback"),
        ("10.0.0.0/8", "private"),
        ("172.16.0.0/12", "private"),
        ("192.168.0.0/16", "private"),
        ("100.64.0.0/10", "shared (CGNAT)"),
        ("169.254.0.0/16", "link-local"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved"),
    )
)
_REFUSED_V6: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(block), reason)
    for block, reason in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("fc00::/7", "private (unique local)"),
        ("ff00::/8", "multicast"),
    )
)
#: IPv6 blocks that embed an IPv4 address: judged by the address they embed.
_IPV4_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")


class EgressRefused(Exception):
    """The guard refused the request before any connection was made. Never retryable: the same
    URL is refused again until an admin changes the allowlist."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class OutboundError(Exception):
    """The request was allowed but did not produce a usable response.

    ``kind`` is one of ``timeout``, ``connection``, ``too_large``, ``too_many_redirects``,
    ``invalid_request``; the caller decides what is retryable.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


# ====================================================================================
# Addresses
# ====================================================================================


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, NAT64, 6to4), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _IPV4_TRANSLATED or address in _NAT64 or address in _IPV4_COMPATIBLE:
        if address in _IPV4_COMPATIBLE and int(address) <= 1:
            return None  # :: and ::1 are themselves, not 0.0.0.0 / 0.0.0.1
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _SIX_TO_FOUR and address.sixtofour is not None:
        return address.sixtofour
    return None


def refusal_reason(address: IPAddress) -> str | None:
    """Why the guard refuses ``address`` by default ("loopback", "private", …), or None."""
    if address in METADATA_ADDRESSES:
        return "cloud metadata"
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return "link-local"
        inner = embedded_ipv4(address)
        if inner is not None:
            reason = refusal_reason(inner)
            return f"IPv6 form of a {reason}" if reason else None
        if address in _NAT64_LOCAL:
            return "reserved"
        for network, reason in _REFUSED_V6:
            if address in network:
                return reason
    else:
        for network, reason in _REFUSED_V4:
            if address in network:
                return reason
    if not address.is_global:
        return "reserved"
    return None


_HEX = re.compile(r"^0[xX][0-9a-fA-F]*$")
_OCTAL = re.compile(r"^0[0-7]+$")
_DECIMAL = re.compile(r"^(0|[1-9][0-9]*)$")
_NUMERIC_LABEL = re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)$")


def _ipv4_part(text: str) -> int | None:
    if _HEX.match(text):
        return int(text[2:] or "0", 16)
    if _OCTAL.match(text):
        return int(text, 8)
    if _DECIMAL.match(text):
        return int(text)
    return None


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address ``host`` spells, or None when it is a name.

    IPv4 is read the way resolvers and browsers read it (WHATWG URL "IPv4 parser"): one to four
    dot-separated parts, each decimal, octal (leading 0) or hex (0x), the last part filling the
    remaining bytes — so ``127.1``, ``2130706433``, ``0177.0.0.1`` and ``0x7f.1`` are all
    127.0.0.1. A host whose last label is numeric but that is not a valid address is refused
    (raises ValueError): it is no name either.
    """
    if ":" in host:
        return ipaddress.IPv6Address(host)
    labels = host.split(".")
    if labels and labels[-1] == "":
        labels = labels[:-1]
    if not labels or not _NUMERIC_LABEL.match(labels[-1]):
        return None
    if len(labels) > 4:
        raise ValueError(f"{host!r} is not a valid IPv4 address")
    parts = [_ipv4_part(label) for label in labels]
    if any(part is None for part in parts):
        raise ValueError(f"{host!r} is not a valid IPv4 address")
    numbers = [part for part in parts if part is not None]
    *leading, last = numbers
    if any(part > 255 for part in leading) or last >= 256 ** (5 - len(numbers)):
        raise ValueError(f"{host!r} is not a valid IPv4 address")
    value = last
    for index, part in enumerate(leading):
        value += part << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host``, in its order, without repeats."""
    found: list[str] = []
    for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(info[4][0])
        if address not in found:
            found.append(address)
    return found


# ====================================================================================
# The allowlist
# ====================================================================================


def parse_entry(entry: str) -> tuple[str, str | IPNetwork]:
    """An allowlist entry as ("name", host) / ("domain", ".suffix") / ("network", block).

    Raises ValueError for anything else, so a typo in the admin or the environment is reported
    instead of silently allowing nothing (or everything).
    """
    text = entry.strip().lower().rstrip(".")
    if not text:
        raise ValueError("An allowlist entry cannot be empty.")
    if text in ("*", "0.0.0.0/0", "::/0"):
        raise ValueError(f"{entry!r} would allow everything; list the hosts to allow instead.")
    try:
        return "network", ipaddress.ip_network(text.strip("[]"), strict=False)
    except ValueError:
        pass
    try:
        literal = parse_ip_literal(text)
    except ValueError:
        literal = None
    if literal is not None:
        return "network", ipaddress.ip_network(literal)
    if text.startswith("*."):
        suffix = text[1:]
        if _is_host_name(suffix[1:]):
            return "domain", suffix
    elif _is_host_name(text):
        return "name", text
    raise ValueError(f"{entry!r} is not a host name, *.domain, IP address or CIDR block.")


_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def _is_host_name(text: str) -> bool:
    try:
        ascii_text = text.encode("idna").decode("ascii") if not text.isascii() else text
    except UnicodeError:
        return False
    labels = ascii_text.split(".")
    return 0 < len(ascii_text) <= 253 and all(_LABEL.match(label) for label in labels)


@dataclass(frozen=True)
class EgressPolicy:
    """What the allowlist opens. The empty policy (the default) refuses every non-public address."""

    names: frozenset[str] = frozenset()
    domains: tuple[str, ...] = ()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> EgressPolicy:
        names: set[str] = set()
        domains: list[str] = []
        networks: list[IPNetwork] = []
        for entry in entries:
            kind, value = parse_entry(entry)
            if kind == "name":
                names.add(str(value))
            elif kind == "domain":
                domains.append(str(value))
            else:
                assert not isinstance(value, str)
                networks.append(value)
        return cls(frozenset(names), tuple(domains), tuple(networks))

    def allows_name(self, host: str) -> bool:
        return host in self.names or any(host.endswith(domain) for domain in self.domains)

    def allows_address(self, address: IPAddress) -> bool:
        candidates: list[IPAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address):
            inner = embedded_ipv4(address)
            if inner is not None:
                candidates.append(inner)
        return any(
            candidate.version == network.version and candidate in network
            for candidate in candidates
            for network in self.networks
        )


def current_policy() -> EgressPolicy:
    """The allowlist as configured now: the setting plus the enabled admin rows."""
    from django.conf import settings

    from .models import EgressAllow

    entries = list(getattr(settings, "FLOWDECK_EGRESS_ALLOW", []))
    entries.extend(EgressAllow.objects.filter(enabled=True).values_list("host", flat=True))
    valid: list[str] = []
    for entry in entries:
        try:
            parse_entry(entry)
        except ValueError:
            continue  # rows are validated on save; a bad one must not disable the others
        valid.append(entry)
    return EgressPolicy.from_entries(valid)


# ====================================================================================
# Checking a URL
# ====================================================================================


@dataclass(frozen=True)
class Destination:
    """A checked URL: where to connect (``connect_url`` has the checked address as its host) and
    what to tell the server (``host_header``, and ``sni_hostname`` for TLS)."""

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress
    connect_url: str
    host_header: str
    sni_hostname: str | None

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)


def check_url(url: str, policy: EgressPolicy, resolver: Resolver = system_resolver) -> Destination:
    """Resolve and check ``url``; raises EgressRefused (policy) or OutboundError (resolution)."""
    try:
        parts = urlsplit(url.strip())
        port_given = parts.port
    except ValueError as error:
        raise EgressRefused("invalid_url", f"Not a valid URL: {error}.") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = f"{scheme}:" if scheme else "no scheme"
        raise EgressRefused("scheme_not_allowed", f"Only http and https URLs are allowed, not {shown}.")
    if parts.username is not None or parts.password is not None:
        raise EgressRefused(
            "invalid_url", "URLs may not contain a user name or password; use a credential instead."
        )
    raw_host = (parts.hostname or "").rstrip(".")
    if not raw_host:
        raise EgressRefused("invalid_url", "The URL has no host.")
    port = port_given or DEFAULT_PORTS[scheme]
    try:
        literal = parse_ip_literal(raw_host)
    except ValueError as error:
        raise EgressRefused("invalid_url", f"Not a valid host: {error}.") from None

    if literal is not None:
        host = str(literal)
        addresses: list[IPAddress] = [literal]
        sni_hostname = None
        name_allowed = False
    else:
        host = _ascii_host(raw_host)
        name_allowed = policy.allows_name(host)
        if (host == "localhost" or host.endswith(".localhost")) and not name_allowed:
            raise EgressRefused(
                "address_refused",
                f"Refused to connect to {host}: it is a loopback name. "
                "An admin can allow it in the egress allowlist.",
            )
        addresses = _resolve(host, port, resolver)
        sni_hostname = host
    for address in addresses:
        _check_address(host, address, policy, name_allowed)

    address = addresses[0]
    shown_address = f"[{address}]" if address.version == 6 else str(address)
    explicit_port = f":{port_given}" if port_given is not None else ""
    connect_url = urlunsplit((scheme, shown_address + explicit_port, parts.path or "/", parts.query, ""))
    shown_host = f"[{host}]" if ":" in host else host
    return Destination(
        url=url,
        scheme=scheme,
        host=host,
        port=port,
        address=address,
        connect_url=connect_url,
        host_header=shown_host + explicit_port,
        sni_hostname=sni_hostname if scheme == "https" else None,
    )


def _ascii_host(host: str) -> str:
    if host.isascii():
        ascii_host = host.lower()
    else:
        try:
            ascii_host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise EgressRefused("invalid_url", f"Not a valid host name: {host!r}.") from None
    if not _is_host_name(ascii_host):
        raise EgressRefused("invalid_url", f"Not a valid host name: {host!r}.")
    return ascii_host


def _resolve(host: str, port: int, resolver: Resolver) -> list[IPAddress]:
    try:
        found = list(resolver(host, port))
    except (OSError, UnicodeError) as error:
        raise OutboundError("connection", f"Could not resolve {host}: {error}") from None
    addresses: list[IPAddress] = []
    for text in found:
        try:
            addresses.append(ipaddress.ip_address(text))
        except ValueError:
            raise EgressRefused(
                "address_refused", f"Refused to connect to {host}: it resolves to an unusable address."
            ) from None
    if not addresses:
        raise OutboundError("connection", f"Could not resolve {host}: no addresses.")
    return addresses


def _check_address(host: str, address: IPAddress, policy: EgressPolicy, name_allowed: bool) -> None:
    if policy.allows_address(address):
        return
    reason = refusal_reason(address)
    if reason is None:
        return
    if name_allowed and address not in METADATA_ADDRESSES:
        return
    where = f"{host} ({address})" if host != str(address) else host
    raise EgressRefused(
        "address_refused",
        f"Refused to connect to {where}: it is a {reason} address. "
        "An admin can allow it in the egress allowlist.",
    )


# ====================================================================================
# Sending
# ====================================================================================


@dataclass(frozen=True)
class OutboundRequest:
    method: str
    url: str
    headers: Sequence[tuple[str, str]] = ()
    content: bytes | None = None
    timeout_s: float = 30.0
    max_redirects: int = 5
    max_response_bytes: int = 1024 * 1024
    #: Extra header names (lower case) that carry secrets: dropped when a redirect leaves the origin.
    sensitive_headers: frozenset[str] = frozenset()
    #: TLS verification: True (the system's trust store), or a context trusting a private CA.
    verify: ssl.SSLContext | bool = True


@dataclass
class OutboundResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    url: str
    redirects: int = 0
    charset: str | None = None
    history: list[str] = field(default_factory=list)


def send(
    request: OutboundRequest,
    *,
    policy: EgressPolicy | None = None,
    resolver: Resolver | None = None,
) -> OutboundResponse:
    """Send ``request`` through the guard, following redirects hop by hop (each hop checked).

    Raises EgressRefused when a hop is refused (nothing was sent to it) and OutboundError for
    timeouts, connection failures, oversized responses and too many redirects.
    """
    import httpx2  # imported here: most processes never send anything

    policy = current_policy() if policy is None else policy
    resolver = system_resolver if resolver is None else resolver
    deadline = time.monotonic() + request.timeout_s
    method = request.method.upper()
    headers = [(name, value) for name, value in request.headers if name.lower() != "host"]
    content = request.content
    url = request.url
    history: list[str] = []
    first_origin: tuple[str, str, int] | None = None
    sensitive = ALWAYS_SENSITIVE_HEADERS | {name.lower() for name in request.sensitive_headers}

    with httpx2.Client(
        transport=httpx2.HTTPTransport(verify=request.verify, retries=0, trust_env=False),
        trust_env=False,
        follow_redirects=False,
    ) as client:
        while True:
            destination = check_url(url, policy, resolver)
            if first_origin is None:
                first_origin = destination.origin
            elif destination.origin != first_origin:
                headers = [(name, value) for name, value in headers if name.lower() not in sensitive]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OutboundError("timeout", "The request did not finish within its timeout.")
            extensions: dict[str, Any] = {}
            if destination.sni_hostname:
                extensions["sni_hostname"] = destination.sni_hostname
            try:
                outgoing = client.build_request(
                    method,
                    destination.connect_url,
                    headers=[("Host", destination.host_header), *headers],
                    content=content,
                    timeout=httpx2.Timeout(remaining),
                    extensions=extensions,
                )
            except (ValueError, TypeError, httpx2.InvalidURL) as error:
                raise OutboundError("invalid_request", f"The request is not valid: {error}") from None
            status, response_headers, body, charset = _exchange(
                client, outgoing, request.max_response_bytes, deadline
            )
            location = _header(response_headers, "location")
            if status in REDIRECT_STATUSES and location:
                if len(history) >= request.max_redirects:
                    raise OutboundError(
                        "too_many_redirects",
                        f"The server redirected more than {request.max_redirects} time(s) "
                        f"(max_redirects); last to {_without_query(urljoin(url, location))}.",
                    )
                history.append(url)
                url = urljoin(url, location)
                if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
                    method = "GET"
                    content = None
                    headers = [
                        (name, value)
                        for name, value in headers
                        if name.lower() not in ("content-type", "content-length")
                    ]
                continue
            return OutboundResponse(
                status=status,
                headers=response_headers,
                body=body,
                url=url,
                redirects=len(history),
                charset=charset,
                history=history,
            )


def _exchange(
    client: Any, outgoing: Any, max_bytes: int, deadline: float
) -> tuple[int, list[tuple[str, str]], bytes, str | None]:
    import httpx2

    try:
        response = client.send(outgoing, stream=True)
    except httpx2.TimeoutException:
        raise OutboundError("timeout", "The server did not answer in time.") from None
    except httpx2.TransportError as error:
        raise OutboundError("connection", f"Could not connect: {error or type(error).__name__}") from None
    try:
        headers = [(name, value) for name, value in response.headers.multi_items()]
        declared = _header(headers, "content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise OutboundError(
                "too_large",
                f"The response is {int(declared)} bytes; the limit is {max_bytes} (max_response_bytes).",
            )
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_bytes(READ_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise OutboundError(
                        "too_large",
                        f"The response is larger than {max_bytes} bytes (max_response_bytes).",
                    )
                if time.monotonic() > deadline:
                    raise OutboundError("timeout", "The response did not arrive within the timeout.")
                chunks.append(chunk)
        except httpx2.TimeoutException:
            raise OutboundError("timeout", "The response did not arrive within the timeout.") from None
        except (httpx2.TransportError, httpx2.DecodingError) as error:
            raise OutboundError(
                "connection", f"The connection failed while reading: {error or type(error).__name__}"
            ) from None
        return response.status_code, headers, b"".join(chunks), response.charset_encoding
    finally:
        response.close()


def _header(headers: Iterable[tuple[str, str]] | Mapping[str, str], name: str) -> str | None:
    items = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        if key.lower() == name:
            return value
    return None


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
