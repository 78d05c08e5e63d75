"""Which language a reader gets: the one they chose (the language cookie the switcher sets),
else the best match of their browser's `Accept-Language`, else the default. Pure string work,
cached: every websocket event of the web app asks it."""

from __future__ import annotations

from functools import lru_cache

# Catalogs shipped (ticketing_app/i18n/locale/<code>); the first is the source language of
# the msgids, every other must translate every one of them.
SOURCE_LOCALE = "en"
LOCALES = ("ko", "en")
NAMES = {"ko": "한국어", "en": "English"}  # each language named in itself, for the switcher


def supported(code: str | None) -> str | None:
    """`ko-KR` -> `ko`; None when we have no catalog for it."""
    if not code:
        return None
    base = code.strip().replace("_", "-").split("-")[0].lower()
    return base if base in LOCALES else None


@lru_cache(maxsize=512)
def parse_accept_language(header: str) -> tuple[str, ...]:
    """Our locales in the order the header prefers them (q-values honoured, q=0 dropped)."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        code = supported(tag)
        if code and q > 0:
            ranked.append((-q, i, code))
    return tuple(dict.fromkeys(code for _, _, code in sorted(ranked)))


def cookie_value(cookie_header: str, name: str) -> str | None:
    for part in cookie_header.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return None


@lru_cache(maxsize=1024)
def negotiate(cookie_header: str, accept_language: str, cookie_name: str, default: str) -> str:
    """The reader's language from a request's (or a websocket handshake's) headers."""
    chosen = supported(cookie_value(cookie_header, cookie_name)) if cookie_header else None
    if chosen:
        return chosen
    preferred = parse_accept_language(accept_language) if accept_language else ()
    return preferred[0] if preferred else (supported(default) or LOCALES[0])
