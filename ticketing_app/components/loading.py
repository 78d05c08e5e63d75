"""What a page shows before its JavaScript has loaded and connected (a slow phone network took
~5 s): a spinner and "Loading…" in the reader's language, never a white page.

The fallback is rendered into the page's HTML when the frontend is built, so it cannot ask the
server: it carries the text in every shipped language, and a tiny script in the head sets
`<html lang>` from the language cookie or the browser's languages (the same choice as
components/i18n.py) before the first paint, so CSS shows the one the reader reads.
"""

from __future__ import annotations

import json
import re

import reflex as rx

from ticketing_app.i18n import N_
from ticketing_app.i18n.catalogs import translations
from ticketing_app.i18n.negotiate import LOCALES, supported
from ticketing_app.settings import get_settings

LOADING = N_("Loading…")


def _lang_script() -> str:
    s = get_settings()
    default = json.dumps(supported(s.default_locale) or LOCALES[0])
    name = re.escape(s.lang_cookie_name)
    return (
        "(function(){try{var L=" + json.dumps(list(LOCALES)) + ";"
        "var pick=function(t){var b=String(t||'').toLowerCase().split('-')[0];"
        "return L.indexOf(b)>=0?b:null;};"
        "var c=document.cookie.match(/(?:^|;\\s*)" + name + "=([A-Za-z_-]+)/);"
        "var langs=navigator.languages||[navigator.language];var l=(c&&pick(c[1]));"
        "for(var i=0;!l&&i<langs.length;i++){l=pick(langs[i]);}"
        "document.documentElement.lang=l||" + default + ";}catch(e){}})();"
    )


def _fallback_css() -> str:
    hide = "".join(f"html:lang({loc}) .tk-loading [lang]:not([lang={loc}]){{display:none}}"
                   for loc in LOCALES)
    # Before the script ran (or without a match): the first language only.
    first = "".join(f"html:not(:lang({loc}))" for loc in LOCALES)
    return (hide + f"{first} .tk-loading [lang]:not([lang={LOCALES[0]}]){{display:none}}"
            "@keyframes tk-spin{to{transform:rotate(360deg)}}")


def loading_head() -> list[rx.Component]:
    """Head components of every page: the early language choice and the fallback's CSS."""
    return [rx.script(_lang_script()), rx.el.style(_fallback_css())]


def loading_fallback() -> rx.Component:
    """Shown while the page hydrates (rx.App(hydrate_fallback=...))."""
    return rx.el.div(
        rx.el.div(style={"width": "28px", "height": "28px", "border_radius": "50%",
                         "border": "3px solid #d1d5db", "border_top_color": "#2563eb",
                         "animation": "tk-spin 0.8s linear infinite"}),
        *[rx.el.span(translations(loc).gettext(LOADING), lang=loc) for loc in LOCALES],
        class_name="tk-loading", id="page-loading", role="status",
        style={"display": "flex", "align_items": "center", "gap": "12px",
               "justify_content": "center", "min_height": "60vh",
               "font_family": "system-ui, sans-serif", "font_size": "18px",
               "color": "#374151"},
    )
