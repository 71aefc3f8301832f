"""The outbound-URL guard's rules (SPEC §13): a URL a user types never reaches loopback, private, link-local,
multicast or reserved addresses.

Two checks share these rules: at write time (`types.py` validates each outbound config field with
`validate_public_url`, which needs no DNS: a literal address or `localhost` is refused), and at connect time,
where `requests-hardened` resolves the host, refuses a non-public address and connects to the very address it
checked (so a DNS answer that changes between the check and the connection cannot slip through). Both are
lifted by OUTBOUND_ALLOW_PRIVATE_NETWORKS, for local fakes only.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from requests_hardened.ip_filter import EXTRA_BLOCKED_NET_RANGES

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public_address(address: Address) -> bool:
    """Whether `address` is a public unicast address: not loopback, private, shared (CGNAT), link-local,
    multicast, reserved, unspecified, documentation, nor a translation range that embeds one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_global or address.is_multicast or address.is_reserved:
        return False
    # The ranges requests-hardened refuses beyond Python's own (6to4, NAT64, ...): one list for both checks.
    return not any(address in network for network in EXTRA_BLOCKED_NET_RANGES)


def literal_address(host: str) -> Address | None:
    """The address a host names literally (`10.0.0.1`, `[::1]`, and the short or numeric forms a resolver
    also reads, such as `127.1` or `2130706433`), or None for a name."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def refused_host(host: str) -> str | None:
    """Why a URL's host is refused at write time (naming it), or None when it may be called."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return f"{host} is this machine (localhost)"
    address = literal_address(name)
    if address is not None and not is_public_address(address):
        return f"{host} is a loopback, private, link-local, multicast or reserved address"
    return None


def private_networks_allowed() -> bool:
    return bool(settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS)


def validate_public_url(value: str) -> None:
    """Django validator for URLs users type: a 400 naming the host when it is not a public one."""
    if private_networks_allowed():
        return
    host = urlsplit(value).hostname or ""
    problem = refused_host(host)
    if problem:
        raise ValidationError(f"Outbound calls never go to private networks: {problem}.")
