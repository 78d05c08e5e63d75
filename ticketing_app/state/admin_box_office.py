"""The box office page of one event: pick seats on the map, then issue comps (free tickets
mailed to a named customer) or reserve them for a customer; release or convert reservations.
Thin over `services/comps.py`."""

from __future__ import annotations

from typing import Any

import reflex as rx

from ticketing_app.bootstrap import get_runtime
from ticketing_app.domain import errors
from ticketing_app.i18n import N_, _, format_money
from ticketing_app.services.order_records import OrderView
from ticketing_app.state.admin import AdminState, admin_only, path_id

COLOURS = {"H": "#f59e0b", "S": "#9ca3af", "B": "#4b5563"}
STATUS = {"A": "available", "H": "held", "S": "sold", "B": "blocked"}
KIND_NAMES = {"COMP": N_("Comp"), "RESERVATION": N_("Reservation")}
STATUS_NAMES = {"CREATED": N_("Held for the customer"), "CONFIRMED": N_("Tickets issued"),
                "CANCELLED": N_("Released"), "REFUNDED": N_("Refunded")}


def office_row(v: OrderView) -> dict[str, Any]:
    o = v.order
    return {"id": o.id, "kind": _(KIND_NAMES.get(o.kind, o.kind)), "raw_kind": o.kind,
            "status": _(STATUS_NAMES.get(o.status, o.status)), "raw_status": o.status,
            "name": o.customer_name, "email": o.customer_email,
            "seats": ", ".join(i.seat_label for i in v.items),
            "total": format_money(o.total, o.currency),
            "open": o.kind == "RESERVATION" and o.status == "CREATED"}


class AdminBoxOfficeState(AdminState):
    event_id: int = 0
    title: str = ""
    seats: list[dict[str, Any]] = []
    cols: int = 0
    selected: list[int] = []
    rows: list[dict[str, Any]] = []

    @rx.var
    def selected_count(self) -> int:
        return len(self.selected)

    @rx.event
    @admin_only
    async def load(self) -> None:
        self.event_id = path_id(self.router.url.path)
        self.selected = []
        rt = await get_runtime()
        try:
            ev = await rt.catalog.get_event(self.event_id, fresh=True)
        except errors.EventNotFound:
            self.title = _("Event not found")
            return
        self.title = ev.title
        await self._refresh()

    async def _refresh(self) -> None:
        rt = await get_runtime()
        layout = await rt.catalog.layout(self.event_id, fresh=True)
        snap = await rt.catalog.snapshot(self.event_id)
        chosen = set(self.selected)
        self.seats = [{
            "id": s.id, "r": s.r, "c": s.c, "status": STATUS.get(snap.public_code(s.id), ""),
            "title": s.label, "selected": s.id in chosen, "dim": False,
            "color": COLOURS.get(snap.public_code(s.id), s.tier_color),
        } for s in layout.seats]
        self.cols = layout.cols
        self.rows = [office_row(v) for v in await rt.comps.list_for_event(self.event_id)]

    @rx.event
    def toggle_seat(self, seat_id: int) -> None:
        if seat_id in self.selected:
            self.selected = [s for s in self.selected if s != seat_id]
        else:
            self.selected = [*self.selected, seat_id]
        chosen = set(self.selected)
        self.seats = [{**s, "selected": s["id"] in chosen} for s in self.seats]

    @rx.event
    @admin_only
    async def issue(self, form: dict[str, Any]) -> Any:
        if not self.selected:
            return rx.toast.error(_("Select seats on the map first."))
        rt = await get_runtime()
        name, email = str(form.get("name", "")), str(form.get("email", ""))
        if str(form.get("kind", "comp")) == "reservation":
            view = await rt.comps.reserve(self._actor, self.event_id, self.selected,
                                               name, email)
            message = _("Reservation #{id} holds {n} seat(s) for {name}.", id=view.order.id,
                        n=len(view.items), name=view.order.customer_name)
        else:
            view = await rt.comps.issue_comp(self._actor, self.event_id, self.selected,
                                                  name, email)
            message = _("Comp #{id}: {n} ticket(s) issued to {name}; they are mailed to "
                        "{email}.", id=view.order.id, n=len(view.items),
                        name=view.order.customer_name, email=view.order.customer_email)
        self.selected = []
        await self._refresh()
        return rx.toast.success(message)

    @rx.event
    @admin_only
    async def release(self, order_id: int) -> Any:
        rt = await get_runtime()
        await rt.comps.release(self._actor, int(order_id))
        await self._refresh()
        return rx.toast.success(_("Reservation #{id} released; its seats are on sale again.",
                                  id=order_id))

    @rx.event
    @admin_only
    async def convert(self, order_id: int) -> Any:
        rt = await get_runtime()
        await rt.comps.convert(self._actor, int(order_id))
        await self._refresh()
        return rx.toast.success(_("Reservation #{id} is now an order; its tickets are mailed.",
                                  id=order_id))
