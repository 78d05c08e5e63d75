"""The ticket PDF prints Hangul and the won sign: it embeds a font that has them (the core
PDF fonts are Latin-1, which printed both as "?"), and its text, extracted back from the PDF,
is what the buyer reads, in their language."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO

from pypdf import PdfReader

from ticketing_app.services.buyer_tickets import BuyerTicket
from ticketing_app.services.ticket_docs import ticket_font, tickets_pdf


def _ticket(order_id: int = 7) -> BuyerTicket:
    return BuyerTicket(
        ticket_id=1, order_id=order_id, event_id=3, event_title="한여름 밤의 콘서트",
        event_status="ON_SALE", starts_at=datetime(2027, 3, 1, 10, 30, tzinfo=UTC),
        seat="B열 4번", tier="일반석", price=52000, currency="KRW", code="TK-1-abc",
        status="VALID", order_status="CONFIRMED", checked_in_at=None)


def _text(pdf: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)


def test_the_pdf_embeds_a_font_with_hangul_and_the_won_sign() -> None:
    assert ticket_font() is not None, "no Korean font: run scripts/bootstrap.sh (fonts-nanum)"
    english = _text(tickets_pdf([_ticket()], "en"))
    assert "한여름 밤의 콘서트" in english
    assert "B열 4번" in english and "일반석" in english
    assert "Order #7 - ₩52,000" in english
    assert "?" not in english
    korean = _text(tickets_pdf([_ticket()], "ko"))
    assert "52,000원" in korean and "한여름 밤의 콘서트" in korean
    fonts = [str(f) for page in PdfReader(BytesIO(tickets_pdf([_ticket()], "en"))).pages
             for f in page["/Resources"]["/Font"].values()]
    assert fonts, "the page names its embedded font"
