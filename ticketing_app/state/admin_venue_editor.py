"""The venue editor (`/admin/venues/{id}`): an existing layout opened, changed seat by seat,
row by row and section by section, previewed as the buyer's seat map draws it, then saved
whole. Thin: every edit is a pure rule of `domain/venue_editor.py`, the save is
`AdminService.save_venue_layout` (validation, the "nothing sold" check in its transaction,
the audit row). The page keeps its working copy on the server, in backend vars."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from ticketing_app.bootstrap import get_runtime
from ticketing_app.domain import errors
from ticketing_app.domain.access import (
    AISLE,
    COMPANION,
    FEATURES,
    RESTRICTED,
    WHEELCHAIR,
    row_letters,
)
from ticketing_app.domain.layouts import Problems
from ticketing_app.domain.venue_editor import (
    Seats,
    add_row,
    add_seats,
    add_section,
    changes,
    check_layout,
    curve_row,
    move_seats,
    offset_row,
    remove_seats,
    remove_section,
    rename_section,
    renumber_row,
    rows,
    sections,
    set_feature,
)
from ticketing_app.i18n import _, ngettext, seat_label
from ticketing_app.services.admin_venues import VenueLayout
from ticketing_app.state.admin import AdminState, admin_only, path_id
from ticketing_app.state.admin_events import int_field
from ticketing_app.state.seat_map import FEATURE_WORDS, bands_of, sections_of

SECTION_COLOURS = ("#10b981", "#3b82f6", "#a855f7", "#f59e0b", "#ef4444", "#0891b2",
                   "#be185d", "#4d7c0f")
Edit = Callable[[Seats], Seats]


def float_field(form: dict[str, Any], name: str, label: str, problems: Problems,
                default: float = 0.0) -> float:
    """A number of seat widths typed in a form ("0.5", "-1", "1,5")."""
    raw = str(form.get(name, "")).strip().replace(",", ".")
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        problems.add(label, _("{value} is not a number", value=repr(raw)))
        return default


def preview_seats(seats: Seats, selected: set[int]) -> list[dict[str, Any]]:
    """The layout as the buyer's map renders it (`state/seat_map.py` places it): rows
    lettered as buyers read them, each section in its colour, the selection marked."""
    letters = row_letters(s.r for s in seats)
    colour = {n: SECTION_COLOURS[i % len(SECTION_COLOURS)]
              for i, n in enumerate(sections(seats))}
    out = []
    for i, s in enumerate(seats):
        label = seat_label(s.section, letters[s.r], s.c)
        extras = [_(FEATURE_WORDS[f]) for f in FEATURE_WORDS if f in s.features]
        out.append({"id": i, "idx": i, "r": s.r, "c": s.c, "x": s.x, "y": s.y,
                    "section": s.section, "row": letters[s.r], "label": label,
                    "color": colour[s.section], "wc": WHEELCHAIR in s.features,
                    "cp": COMPANION in s.features, "rv": RESTRICTED in s.features,
                    "ai": AISLE in s.features, "selected": i in selected,
                    "aria": ", ".join([label, *extras])})
    return out


class AdminVenueEditorState(AdminState):
    venue_id: int = 0
    venue_name: str = ""
    found: bool = True
    editable: bool = False
    # What uses the venue (events keep their own seats) and why it is read-only.
    events_notice: str = ""
    locked_notice: str = ""
    bands: list[dict[str, Any]] = []
    many: bool = False
    section_list: list[dict[str, Any]] = []
    row_options: list[dict[str, str]] = []
    current_row: str = ""
    selected: list[int] = []
    selected_text: str = ""
    summary: str = ""
    unsaved: str = ""
    problem: str = ""
    _seats: Seats = ()
    _saved: Seats = ()
    _fingerprint: str = ""

    # ---- loading ------------------------------------------------------------------------
    @rx.event
    @admin_only
    async def load(self) -> None:
        self.venue_id = path_id(self.router.url.path, "venues")
        rt = await get_runtime()
        try:
            self._open(await rt.admin.venue_for_edit(self.venue_id))
        except errors.NotFound:
            self.found, self.venue_name = False, ""
            self._seats = self._saved = ()
            self._show()

    def _open(self, layout: VenueLayout) -> None:
        self.found = True
        self.venue_name = layout.venue.name
        self._seats = self._saved = layout.seats
        self._fingerprint = layout.fingerprint
        use = layout.use
        self.editable = not use.locked
        self.locked_notice = "" if self.editable else _(
            "Seats of this venue are sold or in an order for an event ({seats} seats, "
            "{orders} orders), so its layout can no longer be changed. It is shown "
            "read-only.", seats=use.sold_seats, orders=use.orders)
        n = len(use.events)
        self.events_notice = ngettext(
            "{n} event already uses this venue ({titles}); it keeps its own seat map. "
            "Changes apply to events created after you save.",
            "{n} events already use this venue ({titles}); they keep their own seat maps. "
            "Changes apply to events created after you save.",
            n, titles=", ".join(use.events[:5])) if n else _(
            "No event uses this venue yet. Changes apply to events created after you save.")
        self.selected, self.problem = [], ""
        self._show()

    def _show(self) -> None:
        """The preview, the lists and the unsaved changes from the working copy."""
        seats = self._seats
        chosen = set(self.selected)
        self.bands = bands_of(sections_of(preview_seats(seats, chosen)))
        self.many = len({s.section for s in seats}) > 1
        letters = row_letters(s.r for s in seats)
        counts: dict[str, int] = {}
        for s in seats:
            counts[s.section] = counts.get(s.section, 0) + 1
        self.section_list = [{"name": n, "seats": counts[n], "id": f"section-{i}"}
                             for i, n in enumerate(sections(seats))]
        per_row: dict[tuple[str, int], int] = {}
        for s in seats:
            per_row[s.row] = per_row.get(s.row, 0) + 1
        self.row_options = [
            {"value": f"{sec}|{r}",
             "label": _("{section} · Row {row} ({n} seats)", section=sec, row=letters[r],
                        n=per_row[(sec, r)])}
            for sec, r in rows(seats)]
        if self.current_row not in {o["value"] for o in self.row_options}:
            self.current_row = self.row_options[0]["value"] if self.row_options else ""
        self.summary = _("{seats} seats in {count} section(s)", seats=len(seats),
                         count=len(self.section_list))
        self.selected_text = ngettext("{n} seat selected", "{n} seats selected",
                                      len(self.selected))
        done = changes(self._saved, seats)
        self.unsaved = _(
            "Unsaved changes: {added} added, {removed} removed, {moved} moved, "
            "{renumbered} renumbered, {features} marked differently.",
            added=done.added, removed=done.removed, moved=done.moved,
            renumbered=done.renumbered, features=done.features) if done.any else ""

    def _apply(self, edit: Edit, keep_selection: bool = False) -> Any:
        """One edit of the working copy. A refused edit (a bad number, an unknown row)
        changes nothing and says why; an edit that leaves the layout invalid (two seats on
        top of each other) is kept, with the problem shown: Save refuses it until fixed."""
        if not self.editable:
            return rx.toast.error(_("This venue's layout is read-only."))
        try:
            seats = edit(self._seats)
        except errors.DomainError as exc:
            return rx.toast.error(exc.message, duration=8000)
        self._seats = seats
        if not keep_selection:
            self.selected = []
        try:
            check_layout(seats)
            self.problem = ""
        except errors.DomainError as exc:
            self.problem = _("This layout cannot be saved yet: {problem}",
                             problem=exc.message)
        self._show()
        return None

    def _row(self) -> tuple[str, int]:
        section, _sep, r = self.current_row.rpartition("|")
        if not section or not r.isdigit():
            raise errors.ValidationFailed(_("Choose a row first."))
        return section, int(r)

    def _keys(self) -> list[tuple[str, int, int]]:
        return [self._seats[i].key for i in self.selected if 0 <= i < len(self._seats)]

    # ---- selecting ----------------------------------------------------------------------
    @rx.event
    @admin_only
    async def toggle_seat(self, idx: int) -> None:
        """Selects a seat (or deselects it); its row becomes the row the row tools act on."""
        if not 0 <= idx < len(self._seats):
            return
        chosen = set(self.selected)
        chosen ^= {idx}
        self.selected = sorted(chosen)
        seat = self._seats[idx]
        self.current_row = f"{seat.section}|{seat.r}"
        self._show()

    @rx.event
    @admin_only
    async def clear_selection(self) -> None:
        self.selected = []
        self._show()

    @rx.event
    @admin_only
    async def choose_row(self, value: str) -> None:
        self.current_row = str(value)

    # ---- rows ---------------------------------------------------------------------------
    def _numbers(self, form: dict[str, Any], *fields: tuple[str, str, bool]) -> list[float]:
        p = Problems()
        out = [float_field(form, name, label, p) if decimal else
               float(int_field(form, name, label, p)) for name, label, decimal in fields]
        p.raise_if_any(_("Invalid input"))
        return out

    @rx.event
    @admin_only
    async def add_seats(self, form: dict[str, Any]) -> Any:
        section, r = self._row()
        (count,) = self._numbers(form, ("count", _("Seats"), False))
        side = str(form.get("side", "right"))
        return self._apply(lambda s: add_seats(s, section, r, int(count), side))

    @rx.event
    @admin_only
    async def renumber(self, form: dict[str, Any]) -> Any:
        section, r = self._row()
        (start,) = self._numbers(form, ("start", _("First number"), False))
        direction = str(form.get("direction", "ltr"))
        return self._apply(lambda s: renumber_row(s, section, r, int(start), direction))

    @rx.event
    @admin_only
    async def offset(self, form: dict[str, Any]) -> Any:
        section, r = self._row()
        (amount,) = self._numbers(form, ("amount", _("Shift"), True))
        return self._apply(lambda s: offset_row(s, section, r, amount))

    @rx.event
    @admin_only
    async def curve(self, form: dict[str, Any]) -> Any:
        section, r = self._row()
        (amount,) = self._numbers(form, ("amount", _("Curve"), True))
        return self._apply(lambda s: curve_row(s, section, r, amount))

    @rx.event
    @admin_only
    async def add_row(self, form: dict[str, Any]) -> Any:
        section = str(form.get("section", ""))
        (count,) = self._numbers(form, ("count", _("Seats"), False))
        return self._apply(lambda s: add_row(s, section, int(count)))

    # ---- seats --------------------------------------------------------------------------
    @rx.event
    @admin_only
    async def remove_selected(self) -> Any:
        keys = self._keys()
        return self._apply(lambda s: remove_seats(s, keys))

    @rx.event
    @admin_only
    async def move_selected(self, form: dict[str, Any]) -> Any:
        keys = self._keys()
        dx, dy = self._numbers(form, ("dx", _("Across"), True), ("dy", _("Down"), True))
        return self._apply(lambda s: move_seats(s, keys, dx, dy), keep_selection=True)

    @rx.event
    @admin_only
    async def toggle_feature(self, feature: str) -> Any:
        """Marks the selected seats with the feature, or unmarks them when all have it."""
        if feature not in FEATURES:
            return rx.toast.error(_("Unknown seat feature."))
        keys = set(self._keys())
        on = not all(feature in s.features for s in self._seats if s.key in keys)
        return self._apply(lambda s: set_feature(s, keys, feature, on), keep_selection=True)

    # ---- sections -----------------------------------------------------------------------
    @rx.event
    @admin_only
    async def add_section(self, form: dict[str, Any]) -> Any:
        name = str(form.get("name", ""))
        n_rows, per_row = self._numbers(form, ("rows", _("Rows"), False),
                                        ("seats", _("Seats per row"), False))
        return self._apply(lambda s: add_section(s, name, int(n_rows), int(per_row)))

    @rx.event
    @admin_only
    async def rename_section(self, form: dict[str, Any]) -> Any:
        old, new = str(form.get("old", "")), str(form.get("new", ""))
        return self._apply(lambda s: rename_section(s, old, new))

    @rx.event
    @admin_only
    async def remove_section(self, name: str) -> Any:
        return self._apply(lambda s: remove_section(s, str(name)))

    # ---- saving -------------------------------------------------------------------------
    @rx.event
    @admin_only
    async def discard(self) -> None:
        self._seats = self._saved
        self.selected, self.problem = [], ""
        self._show()

    @rx.event
    @admin_only
    async def save(self) -> Any:
        if not self.editable:
            return rx.toast.error(_("This venue's layout is read-only."))
        rt = await get_runtime()
        try:
            layout = await rt.admin.save_venue_layout(self._actor, self.venue_id,
                                                      list(self._seats), self._fingerprint)
        except errors.Conflict as exc:
            # Sold meanwhile, or changed by someone else: show the layout as it is now.
            self._open(await rt.admin.venue_for_edit(self.venue_id))
            sold = (exc.details or [{}])[0].get("field") == "venue"
            return rx.toast.error(
                _("Seats of this venue were sold meanwhile, so its layout can no longer be "
                  "changed. Nothing was saved.") if sold else
                _("Someone else saved this venue's layout since you opened it. It is shown "
                  "as it is now: make your changes again."), duration=10000)
        self._open(layout)
        return rx.toast.success(_("Layout of {name} saved.", name=repr(layout.venue.name)))

