"""What a buyer holds in their hand: QR codes (the `qrcode` library) and a PDF of their
tickets (fpdf2). Rendering only; which tickets to show is `services/buyer_tickets.py`."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

import qrcode
import qrcode.image.svg
from fpdf import FPDF

if TYPE_CHECKING:
    from ticketing_app.services.buyer_tickets import BuyerTicket


def qr_svg_data_uri(code: str) -> str:
    """An SVG data URI (no PIL, sharp at any size on a phone)."""
    img = qrcode.make(code, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2,
                      error_correction=qrcode.constants.ERROR_CORRECT_M)
    raw = img.to_string()
    return "data:image/svg+xml;base64," + base64.b64encode(raw).decode()


def qr_png(code: str) -> bytes:
    img = qrcode.make(code, box_size=8, border=2,
                      error_correction=qrcode.constants.ERROR_CORRECT_M)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def _latin1(text: str) -> str:
    """The core PDF fonts are Latin-1: anything else becomes '?', never an error."""
    return text.encode("latin-1", "replace").decode("latin-1")


def tickets_pdf(tickets: Sequence[BuyerTicket]) -> bytes:
    """One A6 page per valid ticket: event, date, seat, QR code and the code in text."""
    pdf = FPDF(format=(105, 148))  # A6, mm
    pdf.set_auto_page_break(False)
    pdf.set_title("Tickets")
    for t in tickets:
        pdf.add_page()
        pdf.set_font("helvetica", "B", 13)
        pdf.multi_cell(0, 6, _latin1(t.event_title), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", "", 9)
        pdf.cell(0, 5, _latin1(t.starts_at_text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", "B", 11)
        pdf.cell(0, 7, _latin1(f"{t.seat}  ({t.tier})" if t.tier else t.seat),
                 new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", "", 8)
        pdf.cell(0, 4, _latin1(f"Order #{t.order_id} - {t.price_text}"),
                 new_x="LMARGIN", new_y="NEXT")
        pdf.image(io.BytesIO(qr_png(t.code)), x=(pdf.w - 60) / 2, y=pdf.get_y() + 3, w=60,
                  h=60)
        pdf.set_y(pdf.get_y() + 66)
        pdf.set_font("courier", "", 6)
        pdf.multi_cell(0, 3, _latin1(t.code), align="C", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
