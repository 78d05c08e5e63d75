"""What a buyer holds in their hand: QR codes (the `qrcode` library) and a PDF of their
tickets (fpdf2). Rendering only; which tickets to show is `services/buyer_tickets.py`.

Rendering is slow, CPU-bound Python (a QR image ~10 ms, a 10-ticket PDF ~100 ms): on the event
loop it stalled every other request of the process for that long (two clients looping on a PDF
quadrupled the catalog's median latency). `TicketRenderer` runs it in a small pool of its own
threads instead (TICKET_RENDER_THREADS: at most that many renders at once, the rest wait their
turn without holding the loop), and keeps recent results (a PDF per order and its tickets'
state, QR images per code), so a client reloading the same PDF costs nothing.
"""

from __future__ import annotations

import asyncio
import base64
import io
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Generic, TypeVar

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


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
QR_CACHE_FACTOR = 4  # QR images kept per PDF kept (a page of My tickets shows several)


class Lru(Generic[K, V]):
    """A small least-recently-used map; used from the event loop's thread only."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        if self.size <= 0:
            return
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


class TicketRenderer:
    """PDFs and QR images rendered off the event loop, at most `threads` at once."""

    def __init__(self, threads: int, cache_size: int):
        self._pool = ThreadPoolExecutor(max_workers=max(1, threads),
                                        thread_name_prefix="ticket-render")
        self._pdfs: Lru[tuple[BuyerTicket, ...], bytes] = Lru(cache_size)
        self._qrs: Lru[str, str] = Lru(cache_size * QR_CACHE_FACTOR)

    async def _run(self, fn: Callable[..., V], *args: object) -> V:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def pdf(self, tickets: Sequence[BuyerTicket]) -> bytes:
        """The tickets' PDF. Cached by the tickets themselves (frozen dataclasses: any change
        of status, seat, title or date is another key, so a stale PDF is never served)."""
        key = tuple(tickets)
        cached = self._pdfs.get(key)
        if cached is None:
            cached = await self._run(tickets_pdf, key)
            self._pdfs.put(key, cached)
        return cached

    async def qr_svgs(self, codes: Sequence[str]) -> list[str]:
        """A QR image (SVG data URI) per code; the ones not cached rendered in one job."""
        out = {c: v for c in codes if (v := self._qrs.get(c)) is not None}
        missing = list(dict.fromkeys(c for c in codes if c not in out))
        if missing:
            rendered = await self._run(_qr_svgs, missing)
            for code, uri in zip(missing, rendered, strict=True):
                self._qrs.put(code, uri)
                out[code] = uri
        return [out[c] for c in codes]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _qr_svgs(codes: Sequence[str]) -> list[str]:
    return [qr_svg_data_uri(c) for c in codes]
