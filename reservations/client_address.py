"""Who is asking: the client's address, and the key its sign-in and rate limits are counted by.

One rule for every channel that limits by address (the resident web pages' sign-in limit, the
API's throttles): behind TRUSTED_PROXIES proxies, each of which appends the address it saw to
X-Forwarded-For, the client is the entry that many places from the right; with none, it is the
socket's REMOTE_ADDR. Entries further left were written by the client and prove nothing, so
they are never read. LINE needs none of this: its webhooks come from LINE's servers, and a
chat is limited by its LINE user id.

An IPv6 client usually holds a whole /64 (privacy addresses change by the hour), so IPv6
addresses are counted by their /64 network; otherwise each new address would be a fresh limit.

Nothing here raises: a malformed header falls back to the socket's address, and no address at
all gives one shared key, so a broken proxy makes the limit stricter, never absent.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from django.conf import settings

# The key of a request whose address cannot be read at all (every such request shares it).
UNKNOWN = "unknown"
IPV6_PREFIX = 64
# An address with a port and brackets is under 60 characters; anything longer is not one.
_MAX_ENTRY = 100


def parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as proxies and servers write it (`1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`,
    `[2001:db8::1]:443`, `fe80::1%eth0`), or None for anything else."""
    text = text.strip()
    if not text or len(text) > _MAX_ENTRY:
        return None
    if text.startswith("["):  # [IPv6] or [IPv6]:port
        text, closed, _port = text[1:].partition("]")
        if not closed:
            return None
    elif text.count(":") == 1:  # IPv4:port (an IPv6 address has at least two colons)
        text = text.partition(":")[0]
    text = text.partition("%")[0]  # a zone index names the host's interface, not the client
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; they are IPv4 clients.
        return address.ipv4_mapped
    return address


def client_address(
    meta: Mapping[str, Any], *, trusted_proxies: int | None = None
) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The client's address from a request's META (Django's or DRF's request.META)."""
    proxies = settings.TRUSTED_PROXIES if trusted_proxies is None else trusted_proxies
    remote = parse_address(str(meta.get("REMOTE_ADDR") or ""))
    forwarded = str(meta.get("HTTP_X_FORWARDED_FOR") or "")
    if proxies <= 0 or not forwarded:
        return remote
    # Only the last `proxies` entries were written by proxies we trust; rsplit never reads
    # (or copies) more of a long header than that.
    entries = forwarded.rsplit(",", proxies)
    # Fewer entries than proxies: the request skipped a proxy or the outermost one started
    # the header; its first entry is still the one a proxy we trust wrote.
    chosen = entries[-proxies] if len(entries) >= proxies else entries[0]
    return parse_address(chosen) or remote


def client_key(meta: Mapping[str, Any], *, trusted_proxies: int | None = None) -> str:
    """The key limits count this client by: an IPv4 address, or an IPv6 client's /64."""
    address = client_address(meta, trusted_proxies=trusted_proxies)
    if address is None:
        return UNKNOWN
    if isinstance(address, ipaddress.IPv6Address):
        network = ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False)
        return str(network)
    return str(address)
