"""Reflex configuration, derived from the one settings object (see ticketing_app/settings.py).

PUBLIC_URL is where browsers reach the app; the compiled frontend opens its websocket there.
Reflex session state lives in the jobs Redis (JOBS_REDIS_URL, else REDIS_URL: a plain Redis,
never a cluster) when WEB_STATE_REDIS=true or when several web processes serve the app
(WEB_WORKERS, one per core by default); one process keeps it in memory.
"""

import reflex as rx
from reflex.plugins import SitemapPlugin

from ticketing_app.settings import get_settings

_s = get_settings()

config = rx.Config(
    app_name="ticketing_app",
    api_url=_s.public_url.rstrip("/"),
    deploy_url=_s.public_url.rstrip("/"),
    redis_url=_s.effective_jobs_redis_url if _s.web_state_in_redis else None,
    state_manager_mode="redis" if _s.web_state_in_redis else "memory",
    telemetry_enabled=False,
    # CORS of the mounted API and the websocket's accepted origins: never Reflex's "*" default.
    cors_allowed_origins=_s.browser_origins(),
    show_built_with_reflex=False,
    react_strict_mode=False,
    frontend_packages=[],
    disable_plugins=[SitemapPlugin],
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="grass", radius="medium"))],
)
