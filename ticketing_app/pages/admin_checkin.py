"""The check-in page, made for a phone at the door."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from ticketing_app import routes
from ticketing_app.components.admin_layout import admin_page, as_object, as_var
from ticketing_app.components.i18n import _
from ticketing_app.state.admin_checkin import AdminCheckinState as C


def result_panel() -> rx.Component:
    r = as_object(C.result)
    return rx.cond(r.contains("headline"), rx.box(
        rx.text(r["headline"].to(str), size="8", weight="bold", color="white"),
        rx.text(r["text"].to(str), size="4", color="white"),
        background=rx.cond(r["ok"].to(bool), "#059669", "#dc2626"),
        padding="1em", border_radius="10px", width="100%", id="checkin-result",
        data_ok=rx.cond(r["ok"].to(bool), "true", "false")))


def history_row(h: ObjectVar[dict[str, Any]]) -> rx.Component:
    return rx.text("…", h["ticket"].to(str), ": ", h["headline"].to(str), " - ",
                   h["text"].to(str), size="1", color="gray")


def found_row(f: ObjectVar[dict[str, Any]]) -> rx.Component:
    return rx.hstack(
        rx.vstack(rx.text(f["name"].to(str), weight="bold", size="3"),
                  rx.text(f["seat"].to(str), " · ", f["tier"].to(str), " · #",
                          f["order"].to(str), " · ", f["status"].to(str), size="2",
                          color="gray"), spacing="0"),
        rx.spacer(),
        rx.cond(f["valid"].to(bool), rx.button(
            _("Check in"), size="3",
            on_click=C.check_ticket(f["ticket_id"].to(int)),  # type: ignore[operator]
            class_name="door-admit")),
        width="100%", align="center", class_name="door-hit",
        padding="0.5em", border_bottom="1px solid var(--gray-5)")


def name_search() -> rx.Component:
    """Manual entry by name: for a code that will not scan or a phone left at home."""
    return rx.vstack(
        rx.form(rx.hstack(
            rx.input(name="q", id="door-q", size="3", width="100%",
                     aria_label=_("Buyer name, e-mail, order number or seat")),
            rx.button(_("Find"), type="submit", size="3", id="door-find"), width="100%"),
            on_submit=C.search_name, reset_on_submit=False, width="100%"),
        rx.cond((C.searched != "") & (C.found.length() == 0),  # type: ignore[attr-defined]
                rx.text(_("No ticket matches."), size="2", color="gray")),
        rx.box(rx.foreach(C.found, found_row), id="door-results", width="100%"),
        width="100%", align="stretch", spacing="2")


def camera_scanner() -> rx.Component:
    """Scan with the phone's camera (assets/checkin_scanner.js): the browser's BarcodeDetector
    where it has one, else the server reads the frames; a code read is submitted through the
    form above, so a scan is checked in exactly like a typed code."""
    return rx.vstack(
        rx.hstack(
            rx.button(_("Scan with camera"), variant="outline", id="scan-start",
                      on_click=rx.call_script("window.tkScanner && window.tkScanner.start()")),
            rx.button(_("Stop camera"), variant="ghost", id="scan-stop",
                      on_click=rx.call_script("window.tkScanner && window.tkScanner.stop()")),
        ),
        # The script says these, in the reader's language.
        rx.text("", id="scan-status", size="2", color="gray",
                custom_attrs={
                    "role": "status",
                    "data-point": _("Point the camera at a ticket's QR code."),
                    "data-denied": _("Camera access was refused. Allow the camera for this "
                                     "site in the browser's settings, or type the code."),
                    "data-no-device": _("No camera found; type the code instead."),
                    "data-busy": _("The camera is in use by another app; close it, or type "
                                   "the code."),
                    "data-insecure": _("The camera opens only on a secure (https) page; type "
                                       "the code instead."),
                    "data-no-camera": _("This browser cannot open the camera here; type the "
                                        "code instead."),
                    "data-signed-out": _("Your session has ended; sign in again to scan."),
                    # {reason} stays for the script to fill in.
                    "data-unavailable": _("Camera unavailable ({reason}); type the code "
                                          "instead."),
                }),
        rx.el.video(id="scan-video", muted=True, plays_inline=True,
                    style={"width": "100%", "max_width": "420px", "border_radius": "8px"}),
        width="100%", align="stretch", spacing="2")


@admin_page(routes.ADMIN_CHECKIN, "Check-in", on_load=(C.load,))  # i18n: ignore
def admin_checkin_page() -> rx.Component:
    return rx.vstack(
        rx.script(src="/checkin_scanner.js"),
        rx.link(_("Back to the event"), href="/admin/events/" + as_var(C.event_id).to(str),
                size="2"),
        rx.heading(_("Check-in: {title}", title=C.title), size="5"),
        rx.text(C.counts, size="3", id="checkin-counts"),
        rx.input(placeholder=_("Gate (e.g. North)"), on_blur=C.set_gate, size="3", id="gate",
                 aria_label=_("Gate")),
        rx.form(rx.vstack(
            rx.input(name="code", id="checkin-code", placeholder=_("Ticket code"),
                     auto_complete="off", size="3", width="100%",
                     aria_label=_("Ticket code")),
            rx.button(_("Check in"), type="submit", size="4", width="100%", id="checkin-submit"),
            width="100%"), on_submit=C.check, reset_on_submit=True, width="100%"),
        result_panel(),
        camera_scanner(),
        rx.heading(_("Find by name"), size="4"),
        name_search(),
        rx.foreach(C.history, history_row),
        spacing="3", width="100%", max_width="480px", margin="0 auto", align="stretch",
    )
