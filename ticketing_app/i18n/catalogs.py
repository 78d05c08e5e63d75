"""The gettext catalogs: `locale/<code>/LC_MESSAGES/messages.po`, compiled with Babel in memory
the first time a language is used (no compiled `.mo` files to keep in step with the `.po`
files a translator edits). `scripts/i18n.py` extracts new strings and updates the catalogs."""

from __future__ import annotations

import io
import threading
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from ticketing_app.i18n.negotiate import LOCALES

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
_lock = threading.Lock()


def po_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(locale: str) -> Catalog:
    with po_path(locale).open("rb") as fh:
        return read_po(fh, locale=locale, domain=DOMAIN)


@cache
def _compiled(locale: str) -> NullTranslations:
    if locale not in LOCALES or not po_path(locale).exists():
        return NullTranslations()
    buf = io.BytesIO()
    # Fuzzy entries are a translator's guess: never shown (gettext's own rule).
    write_mo(buf, read_catalog(locale), use_fuzzy=False)
    buf.seek(0)
    return Translations(fp=buf, domain=DOMAIN)


def translations(locale: str) -> NullTranslations:
    """The compiled catalog of a language (an empty one, which answers the English source,
    for a language we do not ship)."""
    with _lock:  # compiled once, even when the first requests arrive together
        return _compiled(locale)


def reload_catalogs() -> None:
    """Forget compiled catalogs (tests and the extraction script edit the .po files)."""
    with _lock:
        _compiled.cache_clear()
