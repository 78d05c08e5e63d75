"""An event's report: settlement (gross, refunds, net), sales by tier and by day, and the
exports as CSV and XLSX (links to the REST exports, which the admin's cookie opens)."""

from __future__ import annotations

import reflex as rx

from ticketing_app.bootstrap import get_runtime
from ticketing_app.domain import errors
from ticketing_app.i18n import format_date, format_money, format_number
from ticketing_app.state.admin import AdminState, admin_only, path_id


class AdminReportState(AdminState):
    event_id: int = 0
    title: str = ""
    found: bool = True
    gross: str = ""
    refunds: str = ""
    net: str = ""
    sold: str = ""
    tiers: list[dict[str, str]] = []
    days: list[dict[str, str]] = []

    @rx.event
    @admin_only
    async def load(self) -> None:
        rt = await get_runtime()
        self.event_id = path_id(self.router.url.path)
        try:
            r = await rt.reports.report(self.event_id)
        except errors.EventNotFound:
            self.found = False
            return
        self.found, self.title, cur = True, r.title, r.currency
        self.gross, self.refunds = format_money(r.gross, cur), format_money(r.refunds, cur)
        self.net = format_money(r.net, cur)
        sold = sum(t.sold for t in r.tiers)
        capacity = sum(t.capacity for t in r.tiers)
        self.sold = f"{format_number(sold)} / {format_number(capacity)}"
        self.tiers = [{"tier": t.tier, "sold": format_number(t.sold),
                       "capacity": format_number(t.capacity),
                       "percent": f"{t.percent:.0f}%", "refunded": format_number(t.refunded),
                       "gross": format_money(t.gross, cur),
                       "refunds": format_money(t.refunds, cur),
                       "net": format_money(t.net, cur)} for t in r.tiers]
        self.days = [{"day": format_date(d.day_start, "UTC"),  # already the venue's day
                      "orders": format_number(d.orders), "tickets": format_number(d.tickets),
                      "gross": format_money(d.gross, cur),
                      "refunds": format_money(d.refunds, cur),
                      "net": format_money(d.net, cur)} for d in r.days]
