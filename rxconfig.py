"""Reflex configuration, derived from the one settings object (see ticketing_app/settings.py).

PUBLIC_URL is where browsers reach the app; the compiled frontend opens its websocket there.
WEB_STATE_REDIS=true keeps Reflex session state in Redis (REDIS_URL), so several web
processes can serve one app; by default one process keeps it in memory.
"""

import reflex as rx
from reflex.plugins import SitemapPlugin

from ticketing_app.settings import get_settings

_s = get_settings()

config = rx.Config(
    app_name="ticketing_app",
    api_url=_s.public_url.rstrip("/"),
    deploy_url=_s.public_url.rstrip("/"),
    redis_url=_s.redis_url if (_s.web_state_redis and _s.redis_url) else None,
    state_manager_mode="redis" if (_s.web_state_redis and _s.redis_url) else "memory",
    telemetry_enabled=False,
    # CORS of the mounted API and the websocket's accepted origins: never Reflex's "*" default.
    cors_allowed_origins=_s.browser_origins(),
    show_built_with_reflex=False,
    react_strict_mode=False,
    frontend_packages=[],
    disable_plugins=[SitemapPlugin],
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="grass", radius="medium"))],
)
