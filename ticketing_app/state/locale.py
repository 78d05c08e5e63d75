"""The reader's language for everything the server says during a websocket event (toasts,
prices, times, seat names): a Reflex middleware sets it before each event's handler runs,
from the handshake's language cookie and Accept-Language (i18n/negotiate.py, cached)."""

from __future__ import annotations

from typing import Any

from reflex.middleware import Middleware

from ticketing_app.i18n import locale_from_headers, set_locale


class LocaleMiddleware(Middleware):
    """Runs in the task that then runs the handler (background handlers too), so `_()` in
    the handler and in the services it calls answers in the reader's language."""

    async def preprocess(self, app: Any, state: Any, event: Any) -> None:
        headers = state.router.headers
        set_locale(locale_from_headers(headers.cookie, headers.accept_language))
        return None
