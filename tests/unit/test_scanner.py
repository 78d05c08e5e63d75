"""Reading a ticket's QR code from a camera frame (services/scanner.py, for browsers without
BarcodeDetector): the product's own QR image of a ticket code decodes to that code, also as a
camera would send it (small in a grey frame, downscaled, JPEG); anything that is not a sane
image is refused before any decoding; decoding runs in the scanner's own threads."""

from __future__ import annotations

import io
import threading

import pytest
from PIL import Image

from ticketing_app.domain.tickets import make_ticket_code, parse_ticket_code, scanned_ticket_code
from ticketing_app.services import scanner
from ticketing_app.services.scanner import FrameScanner, FrameUnreadable, decode_frame
from ticketing_app.services.ticket_docs import qr_png

SECRET = "unit-test-secret"


def camera_frame(code: str, size: tuple[int, int] = (640, 480), qr_side: int = 200,
                 fmt: str = "JPEG") -> bytes:
    """The ticket's QR (the PDF's own image) in a grey frame, as the page sends one."""
    frame = Image.new("L", size, 170)
    qr = Image.open(io.BytesIO(qr_png(code))).convert("L").resize((qr_side, qr_side))
    frame.paste(qr, ((size[0] - qr_side) // 2, (size[1] - qr_side) // 2))
    out = io.BytesIO()
    frame.save(out, fmt, **({"quality": 60} if fmt == "JPEG" else {}))
    return out.getvalue()


def test_a_tickets_qr_png_decodes_to_its_code() -> None:
    code = make_ticket_code(SECRET, 12, 345)
    assert decode_frame(qr_png(code)) == [code]
    assert parse_ticket_code(SECRET, decode_frame(qr_png(code))[0]) == (12, 345)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_camera_frame_with_a_small_qr_decodes(fmt: str) -> None:
    code = make_ticket_code(SECRET, 1, 2)
    frame = camera_frame(code, qr_side=160, fmt=fmt)
    assert len(frame) < 64 * 1024  # under the request layer's default body limit
    assert decode_frame(frame) == [code]


def test_a_frame_without_a_qr_code_reads_nothing() -> None:
    out = io.BytesIO()
    Image.new("L", (640, 480), 128).save(out, "JPEG")
    assert decode_frame(out.getvalue()) == []


@pytest.mark.parametrize("body", [b"", b"not an image", b"\xff\xd8\xff\xe0broken jpeg",
                                  b"{}"])
def test_what_is_not_an_image_is_refused(body: bytes) -> None:
    with pytest.raises(FrameUnreadable) as err:
        decode_frame(body)
    assert err.value.status == 422 and err.value.code == "VALIDATION_FAILED"


def test_other_formats_and_huge_images_are_refused_unread() -> None:
    gif = io.BytesIO()
    Image.new("L", (10, 10)).save(gif, "GIF")
    with pytest.raises(FrameUnreadable):
        decode_frame(gif.getvalue())
    huge = io.BytesIO()  # a small PNG that claims many pixels
    Image.new("1", (5000, 10)).save(huge, "PNG")
    assert len(huge.getvalue()) < 2000
    with pytest.raises(FrameUnreadable, match="pixels"):
        decode_frame(huge.getvalue())


def test_the_ticket_code_is_chosen_among_what_a_frame_holds() -> None:
    code = make_ticket_code(SECRET, 1, 2)
    assert scanned_ticket_code(["https://example.com", code]) == code
    assert scanned_ticket_code(["https://example.com"]) == "https://example.com"
    assert scanned_ticket_code([" ", ""]) is None
    assert scanned_ticket_code([]) is None


async def test_frames_decode_in_the_scanners_own_threads(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    seen: list[str] = []

    def spy(frame: bytes) -> list[str]:
        seen.append(threading.current_thread().name)
        return decode_frame(frame)

    monkeypatch.setattr(scanner, "decode_frame", spy)
    code = make_ticket_code(SECRET, 3, 4)
    s = FrameScanner(threads=1)
    try:
        assert list(await s.codes(camera_frame(code))) == [code]
        with pytest.raises(FrameUnreadable):
            await s.codes(b"junk")
    finally:
        s.close()
    assert seen and all(name.startswith("scan-decode") for name in seen)
