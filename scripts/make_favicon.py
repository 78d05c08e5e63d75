"""Draws assets/favicon.ico (16, 32 and 48 px): a white ticket on the app's blue, so the
browser tab of a ticket page is recognisable. Run again after changing the drawing."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

BLUE = (29, 78, 216, 255)
WHITE = (255, 255, 255, 255)
OUT = Path(__file__).resolve().parents[1] / "assets" / "favicon.ico"


def draw(size: int = 256) -> Image.Image:
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((0, 0, size - 1, size - 1), radius=size // 5, fill=BLUE)
    # The ticket: a white band with a notch on each side and a dashed tear line.
    top, bottom, left, right = size * 0.3, size * 0.7, size * 0.14, size * 0.86
    d.rounded_rectangle((left, top, right, bottom), radius=size // 16, fill=WHITE)
    r = size * 0.07
    for cx in (left, right):
        d.ellipse((cx - r, size / 2 - r, cx + r, size / 2 + r), fill=BLUE)
    x = size * 0.62
    y = top + size * 0.04
    while y < bottom - size * 0.04:
        d.rectangle((x - size * 0.012, y, x + size * 0.012, y + size * 0.045), fill=BLUE)
        y += size * 0.08
    return img


if __name__ == "__main__":
    draw().save(OUT, sizes=[(16, 16), (32, 32), (48, 48)])
    print(f"wrote {OUT}")
