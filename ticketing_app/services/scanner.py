"""Reading a ticket's QR code from one camera frame, for browsers without the BarcodeDetector
API (desktop Chrome and Chromium, Firefox): the check-in page sends a downscaled frame a few
times a second, this reads it with zxing-cpp (a maintained C++ decoder with a binary wheel),
and the page checks the code in through the same form as a typed code.

Decoding is CPU work (about 3 ms for a 1280x960 frame here, a page's 640-pixel frame less):
it runs in a small pool of threads of its own (SCAN_DECODE_THREADS), never on the event loop,
so a door scanning does not stall anybody's seat map. A frame is checked before it is
decoded: JPEG, PNG or WebP only, at most MAX_FRAME_SIDE pixels on a side (a small file that
claims a huge image is refused unread).
"""

from __future__ import annotations

import asyncio
import io
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import zxingcpp
from PIL import Image, UnidentifiedImageError

from ticketing_app.domain import errors

FRAME_FORMATS = ("JPEG", "PNG", "WEBP")
FRAME_TYPES = ("image/jpeg", "image/png", "image/webp")
MAX_FRAME_SIDE = 2048  # pixels; the page sends at most 640
MAX_FRAME_BYTES = 512 * 1024  # the request layer's MAX_REQUEST_BYTES is usually lower
QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


class FrameUnreadable(errors.ValidationFailed):
    default_message = "Send one camera frame: a JPEG, PNG or WebP image."


def decode_frame(frame: bytes) -> list[str]:
    """The texts of the QR codes in an image, in the order found (none: an empty list).
    Raises FrameUnreadable for anything that is not a JPEG, PNG or WebP image of a sane
    size. Blocking: call it from a thread (`FrameScanner`)."""
    if not frame or len(frame) > MAX_FRAME_BYTES:
        raise FrameUnreadable()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(frame), formats=FRAME_FORMATS) as img:
                if max(img.size) > MAX_FRAME_SIDE or min(img.size) < 1:
                    raise FrameUnreadable(
                        f"A frame is at most {MAX_FRAME_SIDE} pixels on a side.")
                gray = img.convert("L")
    except FrameUnreadable:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError,
            Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise FrameUnreadable() from None
    found = zxingcpp.read_barcodes(gray, formats=QR_ONLY)
    return [b.text for b in found if b.valid and b.text]


class FrameScanner:
    """Camera frames decoded off the event loop, at most `threads` at once (later frames
    wait their turn without holding the loop)."""

    def __init__(self, threads: int):
        self._pool = ThreadPoolExecutor(max_workers=max(1, threads),
                                        thread_name_prefix="scan-decode")

    async def codes(self, frame: bytes) -> Sequence[str]:
        return await asyncio.get_running_loop().run_in_executor(self._pool, decode_frame, frame)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
