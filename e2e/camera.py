"""A video for Chromium's fake camera (`--use-file-for-fake-video-capture`): an image held
still, as a Y4M file (a one-line text header, then each frame as raw YUV 4:2:0 planes; the
format Chromium's file capture device reads besides MJPEG)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

WIDTH, HEIGHT = 640, 480


def qr_scene(qr_png: bytes, qr_side: int = 240, background: int = 200) -> Image.Image:
    """The QR image (PNG bytes) held up in front of the camera: centred in a grey frame."""
    frame = Image.new("L", (WIDTH, HEIGHT), background)
    qr = Image.open(io.BytesIO(qr_png)).convert("L")
    qr = qr.resize((qr_side, qr_side), Image.Resampling.NEAREST)
    frame.paste(qr, ((WIDTH - qr_side) // 2, (HEIGHT - qr_side) // 2))
    return frame


def write_y4m(path: Path, image: Image.Image, frames: int = 10, fps: int = 10) -> Path:
    """`image` (grey) as `frames` identical Y4M frames; Chromium loops the file."""
    gray = image.convert("L")
    w, h = gray.size
    assert w % 2 == 0 and h % 2 == 0, "4:2:0 needs even sides"
    luma = gray.tobytes()
    chroma = bytes([128]) * ((w // 2) * (h // 2))  # no colour
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n")
            f.write(luma)
            f.write(chroma)
            f.write(chroma)
    return path
