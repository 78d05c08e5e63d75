"""The live dashboard of one event: refreshed every DASHBOARD_REFRESH_MS by a background task
that stops when the tab leaves the page or disconnects, or the admin session ends."""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from ticketing_app import routes
from ticketing_app.runtime import get_runtime
from ticketing_app.state.admin import AdminState, admin_only, path_id
from ticketing_app.state.presence import connected


class AdminDashboardState(AdminState):
    event_id: int = 0
    title: str = ""
    status: str = ""
    stats: dict[str, Any] = {}
    timeline: list[dict[str, Any]] = []
    updated: str = ""
    _watch: int = 0

    @rx.event
    @admin_only
    async def load(self) -> Any:
        rt = await get_runtime()
        self.event_id = path_id(self.router.url.path)
        ev = await rt.catalog.get_event(self.event_id, fresh=True)
        self.title, self.status = ev.title, ev.status
        await self._apply(await rt.dashboard.stats(self.event_id))
        return AdminDashboardState.refresh_loop

    async def _apply(self, stats: Any) -> None:
        data = stats.as_dict()
        self.timeline = data.pop("timeline")
        self.stats = data
        from datetime import UTC, datetime

        self.updated = datetime.now(UTC).strftime("%H:%M:%S UTC")

    @rx.event(background=True)
    async def refresh_loop(self) -> None:
        rt = await get_runtime()
        async with self:
            self._watch += 1
            ticket, token, eid = self._watch, self.router.session.client_token, self.event_id
            path = routes.admin_dashboard_url(eid)
            cookie = self.router.headers.cookie
        period = max(0.2, rt.settings.dashboard_refresh_ms / 1000)
        while True:
            await asyncio.sleep(period)
            if not connected(token) or await rt.admin_auth.identify_cookie_header(cookie) is None:
                return
            try:
                stats = await rt.dashboard.stats(eid)
                ev = await rt.catalog.get_event(eid)
            except Exception:
                continue  # a dependency away for a moment: keep the last numbers
            async with self:
                if self._watch != ticket or self.router.url.path != path:
                    return
                await self._apply(stats)
                self.status = ev.status
