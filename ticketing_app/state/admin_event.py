"""One event: settings, price tiers, the seat map (select seats to block, unblock or re-tier),
sales control, orders and refunds, and the cancellation with its job's progress."""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from ticketing_app import routes
from ticketing_app.bootstrap import get_runtime
from ticketing_app.domain import errors
from ticketing_app.domain.event_rules import EventSettings
from ticketing_app.domain.layouts import Problems
from ticketing_app.domain.seats import format_money
from ticketing_app.i18n import N_, _, format_event_time, money_input, ngettext
from ticketing_app.i18n import format_money as i18n_money
from ticketing_app.services.cancellation import JOB_KIND
from ticketing_app.state.admin import AdminState, admin_of, admin_only, path_id
from ticketing_app.state.admin_events import int_field, parse_when, price_field
from ticketing_app.state.admin_words import status_text
from ticketing_app.state.presence import connected

STATE_COLOURS = {"H": "#f59e0b", "S": "#9ca3af", "B": "#4b5563"}
STATE_NAMES = {"A": "available", "H": "held", "S": "sold", "B": "blocked"}
# The same states in words, for the seat tooltips and the counts above the map.
STATE_WORDS = {"available": N_("available"), "held": N_("held"), "sold": N_("sold"),
               "blocked": N_("blocked")}


class AdminEventState(AdminState):
    event_id: int = 0
    title: str = ""
    status: str = ""
    when: str = ""
    currency: str = "KRW"
    edit: dict[str, Any] = {}
    tiers: list[dict[str, Any]] = []
    seats: list[dict[str, Any]] = []
    cols: int = 0
    counts: str = ""
    selected: list[int] = []
    orders: list[dict[str, Any]] = []
    order_filter: str = ""
    job: dict[str, Any] = {}
    _job_watch: int = 0

    # ---- loading --------------------------------------------------------------------------
    @rx.event
    @admin_only
    async def load(self) -> Any:
        self.event_id = path_id(self.router.url.path)
        self.selected = []
        try:
            await self._load_event()
        except errors.EventNotFound:
            self.title, self.status = _("Event not found"), ""
            return None
        await self._load_orders()
        await self._load_job()
        if self.job.get("status") == "RUNNING":
            return AdminEventState.watch_job
        return None

    async def _load_event(self) -> None:
        rt = await get_runtime()
        ev = await rt.catalog.get_event(self.event_id, fresh=True)
        self.title, self.status, self.currency = ev.title, ev.status, ev.currency
        self.when = format_event_time(ev.starts_at, await rt.catalog.time_zone(ev))
        self.edit = {
            "title": ev.title, "description": ev.description,
            "starts_at": ev.starts_at.strftime("%Y-%m-%dT%H:%M"),
            "hold": str(ev.hold_default_s), "max_seats": str(ev.max_seats_per_buyer),
            "web_hold": str(ev.web_hold_s), "web_hold_total": str(ev.web_hold_max_total_s),
            "orphan": ev.orphan_rule, "waiting": ev.waiting_room,
            "pow_bits": str(ev.waiting_room_difficulty),
        }
        tiers = await rt.admin.tiers(self.event_id)
        counts = await rt.admin.tier_seat_counts(self.event_id)
        self.tiers = [{"id": t.id, "name": t.name, "price": money_input(t.price, ev.currency),
                       "price_text": format_money(t.price, ev.currency), "color": t.color,
                       "seats": counts.get(int(t.id or 0), 0)} for t in tiers]
        await self._load_map()

    async def _load_map(self) -> None:
        rt = await get_runtime()
        layout = await rt.catalog.layout(self.event_id, fresh=True)
        snap = await rt.catalog.snapshot(self.event_id)
        chosen = set(self.selected)
        tally: dict[str, int] = {}
        seats = []
        for s in layout.seats:
            code = snap.public_code(s.id)
            name = STATE_NAMES.get(code, "available")
            tally[name] = tally.get(name, 0) + 1
            seats.append({
                "id": s.id, "r": s.r, "c": s.c, "status": name,
                "title": f"{s.label} - {s.tier_name} {format_money(s.price, layout.currency)}"
                         f" - {_(STATE_WORDS[name])}",
                "color": STATE_COLOURS.get(code, s.tier_color),
                "selected": s.id in chosen, "dim": False})
        self.seats, self.cols = seats, layout.cols
        # Translators: one part of the seat counts above the map, e.g. "12 available".
        self.counts = ", ".join(_("{n} {state}", n=n, state=_(STATE_WORDS[k]))
                                for k, n in sorted(tally.items()))

    async def _load_orders(self) -> None:
        """The event's latest orders, each a link to its own page (refunds happen there,
        after a confirmation that states the amount)."""
        rt = await get_runtime()
        oid = int(self.order_filter) if self.order_filter.isdigit() else 0
        views = await rt.admin.orders_for_event(self.event_id, order_id=oid, limit=25)
        self.orders = [{
            "id": v.order.id, "status": status_text(v.order.status), "buyer": v.order.buyer_id,
            "total": i18n_money(sum(i.price for i in v.items if not i.refunded)
                                if v.order.status in ("CONFIRMED", "REFUNDED")
                                else v.order.total, v.order.currency),
            "seats": ", ".join(i.seat_label + (" ✕" if i.refunded else "") for i in v.items),
            "href": f"/admin/orders/{v.order.id}",
        } for v in views]

    async def _load_job(self) -> None:
        self.job = await job_view(self.event_id)

    # ---- seat selection -------------------------------------------------------------------
    @rx.event
    def toggle_seat(self, seat_id: int) -> None:
        if seat_id in self.selected:
            self.selected = [s for s in self.selected if s != seat_id]
        else:
            self.selected = [*self.selected, seat_id]
        chosen = set(self.selected)
        self.seats = [{**s, "selected": s["id"] in chosen} for s in self.seats]

    @rx.event
    def clear_selection(self) -> None:
        self.selected = []
        self.seats = [{**s, "selected": False} for s in self.seats]

    # ---- sales control --------------------------------------------------------------------
    @rx.event
    @admin_only
    async def set_status(self, status: str) -> Any:
        rt = await get_runtime()
        await rt.admin.set_status(self._actor, self.event_id, status)
        await self._load_event()
        return rx.toast.success(_("Event is now {status}.",
                                   status=status_text(status).lower()))

    @rx.event
    @admin_only
    async def release_holds(self) -> Any:
        rt = await get_runtime()
        n = await rt.admin.release_all_holds(self._actor, self.event_id)
        await self._load_map()
        return rx.toast.success(ngettext("Released {n} held seat.", "Released {n} held seats.", n))

    @rx.event
    @admin_only
    async def block_selected(self, blocked: bool) -> Any:
        rt = await get_runtime()
        if not self.selected:
            return rx.toast.error(_("Select seats on the map first."))
        n = await rt.admin.block_seats(self._actor, self.event_id, self.selected, blocked)
        self.selected = []
        await self._load_map()
        if blocked:
            return rx.toast.success(ngettext("Blocked {n} seat.", "Blocked {n} seats.", n))
        return rx.toast.success(ngettext("Unblocked {n} seat.", "Unblocked {n} seats.", n))

    @rx.event
    @admin_only
    async def assign_tier(self, form: dict[str, Any]) -> Any:
        rt = await get_runtime()
        tier_id = int(str(form.get("tier_id", "0")) or 0)
        section = str(form.get("section", "")).strip()
        if not self.selected and not section:
            return rx.toast.error(_("Select seats on the map, or name a section."))
        n = await rt.admin.assign_tier(self._actor, self.event_id, tier_id,
                                       seat_ids=self.selected,
                                       sections=[section] if section else [])
        self.selected = []
        await self._load_event()
        return rx.toast.success(ngettext("{n} seat moved to the tier.",
                                          "{n} seats moved to the tier.", n))

    # ---- settings and tiers ---------------------------------------------------------------
    @rx.event
    @admin_only
    async def save_settings(self, form: dict[str, Any]) -> Any:
        rt = await get_runtime()
        ev = await rt.catalog.get_event(self.event_id, fresh=True)
        p = Problems()
        hold = int_field(form, "hold", _("hold time"), p, ev.hold_default_s)
        limit = int_field(form, "max_seats", _("seats per buyer"), p, ev.max_seats_per_buyer)
        bits = int_field(form, "pow_bits", _("bot check"), p, ev.waiting_room_difficulty)
        web_hold = int_field(form, "web_hold", _("web app hold"), p, ev.web_hold_s)
        web_total = int_field(form, "web_hold_total", _("web app hold in all"), p,
                              ev.web_hold_max_total_s)
        p.raise_if_any(_("Invalid event"))
        spec = EventSettings(
            title=str(form.get("title", "")), starts_at=parse_when(str(form.get("starts_at",
                                                                                  ""))),
            description=str(form.get("description", "")), hold_default_s=hold,
            hold_min_s=min(ev.hold_min_s, hold), hold_max_s=max(ev.hold_max_s, hold),
            hold_max_total_s=max(ev.hold_max_total_s, hold), max_seats_per_buyer=limit,
            orphan_rule=bool(form.get("orphan_rule")), waiting_room=bool(form.get("waiting_room")),
            currency=ev.currency, waiting_room_difficulty=bits, web_hold_s=web_hold,
            web_hold_max_total_s=web_total)
        await rt.admin.update_event(self._actor, self.event_id, spec)
        await self._load_event()
        return rx.toast.success(_("Saved; buyers see the change now."))

    @rx.event
    @admin_only
    async def save_tier(self, form: dict[str, Any]) -> Any:
        rt = await get_runtime()
        p = Problems()
        price = price_field(form, "price", _("price"), self.currency, p)
        p.raise_if_any(_("Invalid price tier"))
        tier_id = int(str(form.get("tier_id", "0")) or 0)
        name, colour = str(form.get("name", "")), str(form.get("color", "#10b981"))
        if tier_id:
            await rt.admin.update_tier(self._actor, self.event_id, tier_id, name, price, colour)
        else:
            await rt.admin.add_tier(self._actor, self.event_id, name, price, colour)
        await self._load_event()
        return rx.toast.success(_("Tier {name} saved.", name=repr(name)))

    # ---- orders, refunds, cancellation ----------------------------------------------------
    @rx.event
    @admin_only
    async def find_orders(self, form: dict[str, Any]) -> None:
        self.order_filter = str(form.get("order_id", "")).strip()
        await self._load_orders()

    @rx.event
    @admin_only
    async def cancel_event(self, form: dict[str, Any]) -> Any:
        rt = await get_runtime()
        if str(form.get("confirm", "")).strip() != self.title:
            return rx.toast.error(_("Type the event's title to confirm the cancellation."))
        await rt.cancellation.cancel_event(self._actor, self.event_id,
                                           str(form.get("reason", "")))
        await self._load_event()
        await self._load_job()
        return AdminEventState.watch_job

    @rx.event(background=True)
    async def watch_job(self) -> Any:
        """Follows the cancellation job while this page is open and its admin signed in."""
        async with self:
            self._job_watch += 1
            ticket, token = self._job_watch, self.router.session.client_token
            eid, headers = self.event_id, self.router.headers
            path = routes.admin_event_url(eid)
        while True:
            await asyncio.sleep(1)
            if not connected(token):
                return None
            if await admin_of(headers) is None:  # signed out meanwhile: read nothing more
                async with self:
                    return self._to_login()
            job = await job_view(eid)  # the database read outside the state lock
            async with self:
                if self._job_watch != ticket or self.router.url.path != path:
                    return None
                self.job = job
                if job.get("status") != "RUNNING":
                    await self._load_orders()
                    await self._load_map()
                    return None


async def job_view(event_id: int) -> dict[str, Any]:
    rt = await get_runtime()
    job = await rt.cancellation.job_for_event(event_id)
    if job is None or job.kind != JOB_KIND:
        return {}
    return {"id": job.id, "status": job.status, "done": job.done, "total": job.total,
            "message": job.message,
            "percent": int(100 * job.done / job.total) if job.total else 100}
