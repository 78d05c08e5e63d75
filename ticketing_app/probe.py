"""Container healthcheck: `python -m ticketing_app.probe URL` exits 0 when URL answers 2xx.

Deliberately imports nothing from the app (a probe runs every few seconds; starting the whole
package for it would cost more than the check)."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request


def probe(url: str, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return bool(200 <= resp.status < 300)
    except (urllib.error.URLError, OSError, ValueError):
        return False


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m ticketing_app.probe URL")
    raise SystemExit(0 if probe(sys.argv[1]) else 1)
