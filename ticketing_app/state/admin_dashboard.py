"""The live dashboard of one event: refreshed every DASHBOARD_REFRESH_MS by a background task
that stops when the tab leaves the page or disconnects, or the admin session ends."""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from ticketing_app import routes
from ticketing_app.bootstrap import get_runtime
from ticketing_app.state.admin import AdminState, admin_of, admin_only, path_id
from ticketing_app.state.presence import connected


class AdminDashboardState(AdminState):
    event_id: int = 0
    title: str = ""
    status: str = ""
    stats: dict[str, Any] = {}
    timeline: list[dict[str, Any]] = []
    tiers: list[dict[str, Any]] = []
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
        self.tiers = data.pop("tiers")
        self.stats = data
        from datetime import UTC, datetime

        self.updated = datetime.now(UTC).strftime("%H:%M:%S UTC")

    @rx.event(background=True)
    async def refresh_loop(self) -> Any:
        """Refreshes while this page is open and its admin signed in (checked every round,
        before reading: a sign-out sends the tab to the login page)."""
        rt = await get_runtime()
        async with self:
            self._watch += 1
            ticket, token, eid = self._watch, self.router.session.client_token, self.event_id
            path = routes.admin_dashboard_url(eid)
            headers = self.router.headers
        period = max(0.2, rt.settings.dashboard_refresh_ms / 1000)
        while True:
            await asyncio.sleep(period)
            if not connected(token):
                return None
            if await admin_of(headers) is None:
                async with self:
                    return self._to_login()
            try:
                stats = await rt.dashboard.stats(eid)
                ev = await rt.catalog.get_event(eid)
            except Exception:
                continue  # a dependency away for a moment: keep the last numbers
            async with self:
                if self._watch != ticket or self.router.url.path != path:
                    return None
                await self._apply(stats)
                self.status = ev.status
