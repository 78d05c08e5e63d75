"""What a buyer holds in their hand: QR codes (the `qrcode` library) and a PDF of their
tickets (fpdf2). Rendering only; which tickets to show is `services/buyer_tickets.py`.

Rendering is slow, CPU-bound Python (a QR image ~10 ms, a 10-ticket PDF ~100 ms): on the event
loop it stalled every other request of the process for that long (two clients looping on a PDF
quadrupled the catalog's median latency). `TicketRenderer` runs it in a small pool of its own
threads instead (TICKET_RENDER_THREADS: at most that many renders at once, the rest wait their
turn without holding the loop), and keeps recent results (a PDF per order and its tickets'
state, QR images per code), so a client reloading the same PDF costs nothing.

The PDF embeds a font that has Hangul and the won sign (the core PDF fonts are Latin-1 only,
so "한여름 밤" and "₩52,000" printed as "?"): TICKET_FONT, else the machine's Korean font as
fontconfig lists them (Debian's fonts-nanum or fonts-noto-cjk, installed by
scripts/bootstrap.sh and the Dockerfile), else a known path. fpdf2 embeds only the glyphs
used (a subset), so a ticket stays small. Without any such font the PDF falls back to
Latin-1, never an error.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import shutil
import subprocess
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

import qrcode
import qrcode.image.svg
from fpdf import FPDF

from ticketing_app.i18n import _, current_locale, format_money, use_locale
from ticketing_app.settings import get_settings

log = logging.getLogger(__name__)
# Tried after fontconfig: Debian's paths of fonts with Hangul and the won sign (TrueType
# outlines: fpdf2 embeds .ttf/.otf files, not collections).
KNOWN_FONTS = (
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
    "/usr/share/fonts/truetype/nanum/NanumBarunGothic.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJKkr-Regular.otf",
    "/usr/share/fonts/truetype/noto/NotoSansKR-Regular.ttf",
)
FONT = "tk"

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


def _fontconfig_korean() -> str | None:
    """The smallest regular font fontconfig lists for Korean that has Hangul and the won
    sign: parsing the font is most of a PDF's cost (a 0.7 MB font about half the time of a
    4.6 MB one), and any of them prints the same text."""
    if not shutil.which("fc-list"):
        return None
    try:
        out = subprocess.run(["fc-list", ":lang=ko", "file", "style"], capture_output=True,
                             text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    files = []
    for line in out.splitlines():
        path, _sep, style = line.partition(":")
        path = path.strip()
        if path.lower().endswith((".ttf", ".otf")) and "bold" not in style.lower() and \
                "coding" not in path.lower() and Path(path).is_file():
            files.append(path)
    for path in sorted(set(files), key=lambda p: Path(p).stat().st_size):
        if _has_hangul(path):
            return path
    return None


def _has_hangul(path: str) -> bool:
    try:
        from fontTools.ttLib import TTFont

        cmap = TTFont(path, lazy=True).getBestCmap() or {}
    except Exception:  # any unreadable font is simply not used
        return False
    return 0xAC00 in cmap and 0x20A9 in cmap


@lru_cache(maxsize=1)
def ticket_font() -> str | None:
    """The font file the PDF embeds (see the module's docstring), found once per process."""
    configured = get_settings().ticket_font
    if configured:
        if Path(configured).is_file():
            return configured
        log.warning("TICKET_FONT %s does not exist; looking for a Korean font", configured)
    found = _fontconfig_korean() or next(
        (p for p in KNOWN_FONTS if Path(p).is_file() and _has_hangul(p)), None)
    if found is None:
        log.warning("no font with Hangul found: ticket PDFs print Latin-1 only (install "
                    "fonts-nanum, or set TICKET_FONT)")
    return found


def tickets_pdf(tickets: Sequence[BuyerTicket], locale: str | None = None) -> bytes:
    """One A6 page per valid ticket: event, date, seat, QR code and the code in text, in the
    buyer's language (`locale`; the render thread does not inherit the request's)."""
    with use_locale(locale or current_locale()):
        return _tickets_pdf(tickets)


def _tickets_pdf(tickets: Sequence[BuyerTicket]) -> bytes:
    pdf = FPDF(format=(105, 148))  # A6, mm
    pdf.set_auto_page_break(False)
    pdf.set_title(_("Tickets"))
    font = ticket_font()
    text: Callable[[str], str] = _latin1
    family, bold = "helvetica", "B"
    if font:
        pdf.add_font(FONT, "", font)
        family, bold, text = FONT, "", str
    for t in tickets:
        pdf.add_page()
        pdf.set_font(family, bold, 13)
        pdf.multi_cell(0, 6, text(t.event_title), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", 9)
        pdf.cell(0, 5, text(t.starts_at_text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, bold, 11)
        pdf.cell(0, 7, text(f"{t.seat}  ({t.tier})" if t.tier else t.seat),
                 new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", 8)
        pdf.cell(0, 4, text(_("Order #{id} - {price}", id=t.order_id,
                              price=format_money(t.price, t.currency))),
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
        self._pdfs: Lru[tuple[str | BuyerTicket, ...], bytes] = Lru(cache_size)
        self._qrs: Lru[str, str] = Lru(cache_size * QR_CACHE_FACTOR)

    async def _run(self, fn: Callable[..., V], *args: object) -> V:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def pdf(self, tickets: Sequence[BuyerTicket]) -> bytes:
        """The tickets' PDF. Cached by the tickets themselves (frozen dataclasses: any change
        of status, seat, title or date is another key, so a stale PDF is never served)."""
        locale = current_locale()
        key: tuple[str | BuyerTicket, ...] = (locale, *tickets)
        cached = self._pdfs.get(key)
        if cached is None:
            cached = await self._run(tickets_pdf, tuple(tickets), locale)
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
