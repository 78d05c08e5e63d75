"""Who the client is behind load balancers: X-Forwarded-For is believed only from the proxies
FORWARDED_ALLOW_IPS names, so a client cannot choose the address its per-address limit counts.
And which site a browser's request comes from (the admin area's CSRF check). One rule each for
the REST API's request layer and the web app's websocket."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def allowed_origins(sites: Iterable[str], host: str, scheme: str) -> set[str]:
    """The origins of `sites` (PUBLIC_URL and CORS_ORIGINS), and the request's own host."""
    origins = {origin_of(o) for o in sites}
    if host:
        origins.add(f"{scheme}://{host}".lower())
    return {o for o in origins if o}


def origin_allowed(sites: Iterable[str], headers: Mapping[str, str], scheme: str) -> bool:
    """True unless the request names another site as its origin."""
    claimed = headers.get("origin") or origin_of(headers.get("referer", ""))
    if not claimed:
        return True
    if claimed == "null":
        return False
    return claimed.lower() in allowed_origins(sites, headers.get("host", ""), scheme)


class TrustedProxies:
    """FORWARDED_ALLOW_IPS: addresses or networks whose X-Forwarded-* headers are believed."""

    def __init__(self, spec: str):
        items = [h.strip() for h in spec.split(",") if h.strip()]
        self.any = "*" in items
        self.hosts = {h for h in items if "/" not in h}
        self.networks = [ipaddress.ip_network(h, strict=False) for h in items if "/" in h]

    def trusted(self, host: str) -> bool:
        if self.any or host in self.hosts:
            return True
        if not self.networks:
            return False
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(addr in n for n in self.networks)

    def client(self, forwarded_for: str) -> str | None:
        """The nearest address in X-Forwarded-For that is not a trusted proxy."""
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        for host in reversed(hops):
            if not self.trusted(host):
                return host
        return hops[0] if hops else None

    def resolve(self, peer: str, forwarded_for: str | None) -> str:
        """The client's address: the peer, or what a trusted peer forwarded."""
        if peer and forwarded_for and self.trusted(peer):
            return self.client(forwarded_for) or peer
        return peer
