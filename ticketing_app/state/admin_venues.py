"""Venues page: generate a layout (sections of rows x columns with gaps and aisles) or import
one (CSV/JSON), preview it as the buyer's map will draw it, then create the venue."""

from __future__ import annotations

import re
from typing import Any

import reflex as rx

from ticketing_app.bootstrap import get_runtime
from ticketing_app.domain import errors
from ticketing_app.domain.layouts import (
    GridSpec,
    Position,
    Problems,
    parse_cells,
    parse_numbers,
    stack_grids,
)
from ticketing_app.domain.seats import row_label, seat_label
from ticketing_app.i18n import _
from ticketing_app.state.admin import AdminState, admin_only

SECTION_SLOTS = 3  # shown at first; "Add a section" adds more, without a cap
SECTION_COLOURS = ("#10b981", "#3b82f6", "#a855f7", "#f59e0b", "#ef4444")


def preview_cells(positions: list[Position]) -> list[dict[str, Any]]:
    sections = sorted({s for s, _, _ in positions})
    colour = {s: SECTION_COLOURS[i % len(SECTION_COLOURS)] for i, s in enumerate(sections)}
    return [{"id": i, "r": r, "c": c, "title": f"{seat_label(s, r, c)} ({s})",
             "color": colour[s], "status": "available", "selected": False, "dim": False}
            for i, (s, r, c) in enumerate(positions)]


def slots(form: dict[str, Any], prefix: str) -> list[int]:
    """The numbered groups a form sent (`s1_name`, `s7_name`, ...), in order."""
    found = {int(m.group(1)) for k in form if (m := re.fullmatch(prefix + r"(\d+)_name", k))}
    return sorted(found)


def grids_from_form(form: dict[str, Any]) -> list[GridSpec]:
    problems = Problems()
    grids: list[GridSpec] = []
    for i in slots(form, "s"):
        name = str(form.get(f"s{i}_name", "")).strip()
        rows, cols = str(form.get(f"s{i}_rows", "")).strip(), str(form.get(f"s{i}_cols", ""))
        if not name and not rows.strip():
            continue
        try:
            grids.append(GridSpec(
                name, int(rows or 0), int(cols.strip() or 0),
                parse_cells(str(form.get(f"s{i}_gaps", ""))),
                parse_numbers(str(form.get(f"s{i}_aisle_cols", ""))),
                parse_numbers(str(form.get(f"s{i}_aisle_rows", "")))))
        except ValueError as exc:
            problems.add(_("section {n}", n=i),
                         str(exc).replace("invalid literal for int() with base 10",
                                          _("not a number")))
    if not grids and not problems.items:
        problems.add(_("sections"), _("fill in at least one section"))
    problems.raise_if_any(_("Invalid layout"))
    return stack_grids(grids)


class AdminVenuesState(AdminState):
    venues: list[dict[str, Any]] = []
    preview: list[dict[str, Any]] = []
    extra_sections: list[int] = []  # section slots after the first SECTION_SLOTS

    @rx.event
    def add_section(self) -> None:
        self.extra_sections = [*self.extra_sections,
                               SECTION_SLOTS + len(self.extra_sections) + 1]
    preview_cols: int = 0
    preview_summary: str = ""
    preview_error: str = ""
    _pending: dict[str, Any] = {}

    @rx.event
    @admin_only
    async def load(self) -> None:
        await self._list()

    async def _list(self) -> None:
        rt = await get_runtime()
        self.venues = [{"id": v.id, "name": v.name, "seats": v.seats,
                        "sections": ", ".join(v.sections), "address": v.address}
                       for v in await rt.admin.list_venues()]

    def _show(self, positions: list[Position], pending: dict[str, Any]) -> None:
        self.preview = preview_cells(positions)
        self.preview_cols = max((c for _, _, c in positions), default=0)
        rows = max((r for _, r, _ in positions), default=0)
        sections = sorted({s for s, _, _ in positions})
        self.preview_summary = _(
            "{seats} seats in {count} section(s) ({sections}), rows A-{last}",
            seats=len(positions), count=len(sections), sections=", ".join(sections),
            last=row_label(rows))
        self.preview_error = ""
        self._pending = pending

    def _fail(self, exc: errors.DomainError) -> None:
        self.preview, self.preview_summary, self._pending = [], "", {}
        self.preview_error = exc.message

    @rx.event
    @admin_only
    async def preview_grid(self, form: dict[str, Any]) -> None:
        rt = await get_runtime()
        try:
            grids = grids_from_form(form)
            name = str(form.get("name", ""))
            rt.admin.check_venue_fields(name, str(form.get("address", "")))
            self._show(rt.admin.preview_positions(grids), {
                "kind": "grid", "name": name, "address": str(form.get("address", "")),
                "grids": grids})
        except errors.DomainError as exc:
            self._fail(exc)

    @rx.event
    @admin_only
    async def preview_import(self, form: dict[str, Any]) -> None:
        rt = await get_runtime()
        try:
            name, content = str(form.get("name", "")), str(form.get("content", ""))
            fmt = str(form.get("format", "csv"))
            rt.admin.check_venue_fields(name, "")
            self._show(rt.admin.preview_positions(content=content, fmt=fmt),
                       {"kind": "import", "name": name, "content": content, "format": fmt})
        except errors.DomainError as exc:
            self._fail(exc)

    @rx.event
    @admin_only
    async def create(self) -> Any:
        rt = await get_runtime()
        p = self._pending
        if not p:
            return rx.toast.error(_("Preview the layout first."))
        if p["kind"] == "grid":
            venue = await rt.admin.create_venue(self._actor, p["name"], p["grids"], p["address"])
        else:
            venue = await rt.admin.import_venue(self._actor, p["name"], p["content"],
                                                p["format"])
        self._pending, self.preview, self.preview_summary = {}, [], ""
        await self._list()
        return rx.toast.success(_("Venue {name} created.", name=repr(venue.name)))
