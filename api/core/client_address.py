"""The client's address: the peer's, or behind trusted proxies the one they forwarded.

`X-Forwarded-For` is believed only when the peer is a configured trusted proxy
(`TROUW_TRUSTED_PROXIES`); then the header is read from the right, skipping trusted proxies,
and the first address that is not one is the client. A client cannot forge its address by
sending the header itself: that address is left of what the proxies appended.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def trusted_networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    """Parsed once per configuration; a bad entry fails at start-up."""
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies if p.strip())


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(
    peer: str | None, forwarded_for: str | None, proxies: Sequence[str]
) -> str | None:
    networks = trusted_networks(tuple(proxies))
    if not networks or peer is None or not forwarded_for or not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",")]
    for hop in reversed(hops):
        if not hop:
            continue
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage where an address should be: trust nothing in it
    return hops[0] or peer if hops else peer
