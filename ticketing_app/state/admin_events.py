"""Events list and the new-event form (title, date, venue, currency, hold TTL, seats per
buyer, orphan rule, waiting room, and price tiers, as many as needed, with their rows or
sections; prices typed in the currency's units)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import reflex as rx

from ticketing_app import routes
from ticketing_app.bootstrap import get_runtime
from ticketing_app.domain import errors
from ticketing_app.domain.event_rules import TierSpec
from ticketing_app.domain.layouts import Problems, parse_numbers
from ticketing_app.domain.seats import format_money
from ticketing_app.i18n import _, format_event_time, ngettext, parse_money
from ticketing_app.state.admin import AdminState, admin_only
from ticketing_app.state.admin_venues import slots
from ticketing_app.state.admin_words import status_text

TIER_SLOTS = 3  # shown at first; "Add a tier" adds more, without a cap
CURRENCIES = ("KRW", "USD", "EUR", "JPY")


def parse_when(text: str) -> datetime:
    """`2026-12-24T19:30` from a datetime-local input, taken as UTC."""
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise errors.ValidationFailed(_("Date and time: pick a date and a time."),
                                      [{"field": "startsAt", "message": "invalid"}]) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def int_field(form: dict[str, Any], name: str, label: str, problems: Problems,
              default: int = 0) -> int:
    raw = str(form.get(name, "")).strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        problems.add(label, _("{value} is not a whole number", value=repr(raw)))
        return default


def price_field(form: dict[str, Any], name: str, label: str, currency: str,
                problems: Problems) -> int:
    """A price typed in the currency's units ("52,000", "12.50"), as minor units."""
    try:
        return parse_money(str(form.get(name, "")), currency)
    except ValueError as exc:
        problems.add(label, str(exc))
        return 0


def tiers_from_form(form: dict[str, Any], problems: Problems,
                    currency: str = "KRW") -> list[TierSpec]:
    tiers = []
    for i in slots(form, "t"):
        name = str(form.get(f"t{i}_name", "")).strip()
        price_raw = str(form.get(f"t{i}_price", "")).strip()
        if not name and not price_raw:
            continue
        price = price_field(form, f"t{i}_price", _("tier {n} price", n=i), currency, problems)
        try:
            rows = tuple(sorted(parse_numbers(str(form.get(f"t{i}_rows", "")))))
        except ValueError as exc:
            problems.add(_("tier {n} rows", n=i), str(exc))
            rows = ()
        sections = tuple(s.strip() for s in str(form.get(f"t{i}_sections", "")).split(",")
                         if s.strip())
        tiers.append(TierSpec(name, price, str(form.get(f"t{i}_color", "#10b981")), rows,
                              sections))
    return tiers


class AdminEventsState(AdminState):
    events: list[dict[str, Any]] = []
    venue_options: list[list[str]] = []
    form_error: str = ""
    extra_tiers: list[int] = []  # tier slots after the first TIER_SLOTS

    @rx.event
    def add_tier(self) -> None:
        self.extra_tiers = [*self.extra_tiers, TIER_SLOTS + len(self.extra_tiers) + 1]

    @rx.event
    @admin_only
    async def load(self) -> None:
        rt = await get_runtime()
        self.events = [
            {"id": e.id, "title": e.title,
             "when": format_event_time(e.starts_at, await rt.catalog.time_zone(e)),
             "status": e.status, "statusText": status_text(e.status),
             "url": routes.admin_event_url(int(e.id or 0))}
            for e in await rt.admin.list_events()]
        self.venue_options = [[str(v.id), ngettext("{name} ({n} seat)", "{name} ({n} seats)",
                                                   v.seats, name=v.name)]
                              for v in await rt.admin.list_venues()]

    @rx.event
    @admin_only
    async def create(self, form: dict[str, Any]) -> Any:
        rt = await get_runtime()
        problems = Problems()
        venue_id = int_field(form, "venue_id", _("venue"), problems)
        currency = str(form.get("currency", "") or rt.settings.currency).upper()
        tiers = tiers_from_form(form, problems, currency)
        hold = int_field(form, "hold_seconds", _("hold time"), problems, rt.settings.hold_default_s)
        limit = int_field(form, "max_seats", _("seats per buyer"), problems,
                          rt.settings.max_seats_per_buyer)
        if not venue_id:
            problems.add(_("venue"), _("choose a venue"))
        try:
            problems.raise_if_any(_("Invalid event"))
            starts = parse_when(str(form.get("starts_at", "")))
            ev = await rt.admin.create_event(
                self._actor, title=str(form.get("title", "")), starts_at=starts,
                venue_id=venue_id, tiers=tiers, description=str(form.get("description", "")),
                currency=currency,
                hold_default_s=hold, hold_min_s=min(rt.settings.hold_min_s, hold),
                hold_max_s=max(rt.settings.hold_max_s, hold), max_seats_per_buyer=limit,
                orphan_rule=bool(form.get("orphan_rule")),
                waiting_room=bool(form.get("waiting_room")))
        except errors.DomainError as exc:
            self.form_error = exc.message
            return None
        self.form_error = ""
        return rx.redirect(routes.admin_event_url(int(ev.id or 0)))


def money(amount: int, currency: str) -> str:
    return format_money(amount, currency)
