"""`_()`, `ngettext()`, `pgettext()` for server-side text (states, services, mail, PDF): they
translate into the language of the reader being served, which a context variable carries.

The web app sets it for every websocket event from the handshake's language cookie and
`Accept-Language` (state/locale.py); the REST API from the request's `Accept-Language`; mail
and PDFs from the language stored with the order (`use_locale`). Outside all of these the
default language (DEFAULT_LOCALE) answers. Components do not call these: their text is drawn
in the browser (components/i18n.py), from the same catalogs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

from ticketing_app.i18n.catalogs import translations
from ticketing_app.i18n.negotiate import LOCALES, negotiate, supported
from ticketing_app.settings import get_settings

_locale: ContextVar[str | None] = ContextVar("tk_locale", default=None)


def default_locale() -> str:
    return supported(get_settings().default_locale) or LOCALES[0]


def current_locale() -> str:
    """The language of the reader being served."""
    return _locale.get() or default_locale()


def set_locale(locale: str | None) -> Token[str | None]:
    return _locale.set(supported(locale) or default_locale())


@contextmanager
def use_locale(locale: str | None) -> Iterator[str]:
    """Text produced inside is in `locale` (a mail for the buyer who placed the order)."""
    token = set_locale(locale)
    try:
        yield current_locale()
    finally:
        _locale.reset(token)


def locale_from_headers(cookie_header: str, accept_language: str) -> str:
    s = get_settings()
    return negotiate(cookie_header or "", accept_language or "", s.lang_cookie_name,
                     s.default_locale)


def gettext(message: str, /, **values: object) -> str:
    """The message in the reader's language; `{name}` placeholders filled from `values`."""
    text = translations(current_locale()).gettext(message)
    return text.format(**values) if values else text


def ngettext(singular: str, plural: str, n: int, /, **values: object) -> str:
    """The plural form the reader's language uses for `n`; `{n}` is always available."""
    text = translations(current_locale()).ngettext(singular, plural, n)
    return text.format(n=n, **values)


def pgettext(context: str, message: str, /, **values: object) -> str:
    """A message whose meaning depends on `context` (the same English word, two Korean)."""
    text = str(translations(current_locale()).pgettext(context, message))
    return text.format(**values) if values else text


def N_(message: str) -> str:
    """Marks a message for extraction without translating it (module constants translated
    where they are shown, with `_()`)."""
    return message


_ = gettext
