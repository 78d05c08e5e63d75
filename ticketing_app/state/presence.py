"""Is a browser tab still connected? Background loops of a page (the dashboard's refresh, a
job's progress) stop when their tab has gone, so nothing runs for nobody."""

from __future__ import annotations

import contextlib


def connected(client_token: str) -> bool:
    from reflex.utils.prerequisites import get_app

    with contextlib.suppress(Exception):
        app = getattr(get_app(), "app", None)
        ns = getattr(app, "event_namespace", None) if app is not None else None
        if ns is not None:
            return client_token in ns.token_to_sid
    return False
