"""Text in components, drawn in the reader's language by the browser.

A component's text is compiled into the frontend once, so it cannot ask the server's
`_()` per reader. `_()` here returns a `Var` that carries every shipped language's translation
(from the same gettext catalogs, at compile time) and picks one in the browser: the language
cookie the switcher set, else the browser's languages (what it sends as Accept-Language), else
the default; the server makes the same choice (i18n/negotiate.py), so server-made text (toasts,
prices) and component text agree. Text shows in the right language before the websocket
connects (no flash of the wrong language on a slow network).

A switch writes the cookie and reloads the page: every server-made text is then made again.
"""

from __future__ import annotations

import json
import re
from typing import Any

import reflex as rx
from reflex.vars import Var, VarData

from ticketing_app.i18n.catalogs import read_catalog, translations
from ticketing_app.i18n.negotiate import LOCALES, NAMES, supported
from ticketing_app.settings import get_settings

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
LANG_VAR = "tkLang"
_CONTEXTS: dict[str, str] = {}


def _lang_hook() -> str:
    """One line in each component function that shows text: the reader's language."""
    s = get_settings()
    default = json.dumps(supported(s.default_locale) or LOCALES[0])
    name = re.escape(s.lang_cookie_name)
    return (
        f"const {LANG_VAR} = (() => {{ if (typeof document === 'undefined') return {default}; "
        f"const L = {json.dumps(list(LOCALES))}; "
        "const pick = (t) => { const b = String(t || '').toLowerCase().split('-')[0]; "
        "return L.includes(b) ? b : null; }; "
        f"const c = document.cookie.match(/(?:^|;\\s*){name}=([A-Za-z_-]+)/); "
        "return (c && pick(c[1])) || (navigator.languages || [navigator.language])"
        f".map(pick).find(Boolean) || {default}; }})();"
    )


def _var_data(*values: Any) -> VarData | None:
    parts: list[VarData | None] = [VarData(hooks={_lang_hook(): None})]
    parts += [v._get_all_var_data() for v in values if isinstance(v, Var)]
    return VarData.merge(*parts)


def _js_value(value: Any) -> str:
    if isinstance(value, Var):
        return f"String({value!s})"
    return json.dumps(str(value), ensure_ascii=False)


def _template(text: str, values: dict[str, Any]) -> str:
    """`"Cart ({count})"` -> `("Cart (" + String(count) + ")")`: placeholders from `values`
    (Vars evaluated in the browser); unknown placeholders stay as written."""
    parts: list[str] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(text):
        if m.group(1) not in values:
            continue
        if m.start() > pos:
            parts.append(json.dumps(text[pos:m.start()], ensure_ascii=False))
        parts.append(_js_value(values[m.group(1)]))
        pos = m.end()
    if pos < len(text) or not parts:
        parts.append(json.dumps(text[pos:], ensure_ascii=False))
    return "(" + " + ".join(parts) + ")"


def _choose(per_locale: dict[str, str]) -> str:
    """JS choosing one expression by the reader's language (the last one is the fallback)."""
    expr = per_locale[LOCALES[-1]]
    for loc in reversed(LOCALES[:-1]):
        expr = f"({LANG_VAR} === {json.dumps(loc)} ? {per_locale[loc]} : {expr})"
    return expr


def _(message: str, /, **values: Any) -> Var[str]:
    """`message` in the reader's language, in the browser; `{name}` placeholders take
    `values` (state Vars or constants)."""
    per_locale = {loc: _template(translations(loc).gettext(message), values)
                  for loc in LOCALES}
    return Var(_js_expr=_choose(per_locale), _var_type=str,
               _var_data=_var_data(*values.values())).to(str)


def pgettext(context: str, message: str, /, **values: Any) -> Var[str]:
    per_locale = {loc: _template(str(translations(loc).pgettext(context, message)), values)
                  for loc in LOCALES}
    return Var(_js_expr=_choose(per_locale), _var_type=str,
               _var_data=_var_data(*values.values())).to(str)


def _plural_forms(loc: str, singular: str, plural: str) -> tuple[str, list[str]]:
    """(the language's plural rule as JS over `n`, its forms of this message)."""
    catalog = read_catalog(loc)
    entry = catalog.get(singular)
    forms = list(entry.string) if entry is not None and isinstance(entry.string, tuple) \
        else []
    if not forms or not all(forms):
        return "(n != 1)", [singular, plural]
    return catalog.plural_expr, forms


def ngettext(singular: str, plural: str, n: Var[int], /, **values: Any) -> Var[str]:
    """The plural form the reader's language uses for the count `n` (a Var); `{n}` is the
    count itself."""
    values = {"n": n, **values}
    per_locale = {}
    for loc in LOCALES:
        rule, forms = _plural_forms(loc, singular, plural)
        options = ", ".join(_template(f, values) for f in forms)
        last = _template(forms[-1], values)
        per_locale[loc] = f"((n) => [{options}][Number({rule})] ?? {last})(Number({n!s}))"
    return Var(_js_expr=_choose(per_locale), _var_type=str,
               _var_data=_var_data(*values.values())).to(str)


def lang() -> Var[str]:
    """The reader's language code, in the browser."""
    return Var(_js_expr=LANG_VAR, _var_type=str, _var_data=_var_data()).to(str)


def _switch_script(code: str) -> str:
    s = get_settings()
    secure = "; secure" if s.public_url.startswith("https") else ""
    return (f"document.cookie = '{s.lang_cookie_name}={code}; path=/; max-age=31536000; "
            f"samesite=lax{secure}'; window.location.reload();")


def language_switcher() -> rx.Component:
    """한국어 | English: remembered in a cookie for a year; the page reloads in the new
    language. Also tells assistive technology which language the page is in."""
    current = lang()
    sync_lang = ("useEffect(() => { document.documentElement.lang = " + LANG_VAR + "; }, ["
                 + LANG_VAR + "]);")
    marker: Var[str] = Var(_js_expr=LANG_VAR, _var_type=str,
                 _var_data=VarData.merge(_var_data(), VarData(
                     imports={"react": ["useEffect"]}, hooks={sync_lang: None})))
    buttons = [
        rx.el.button(
            NAMES[code],
            lang=code,
            on_click=rx.call_script(_switch_script(code)),
            aria_pressed=rx.cond(current == code, "true", "false"),
            class_name="tk-lang",
            data_lang=code,
            style={"min_height": "44px", "min_width": "44px", "padding": "0 10px",
                   "border": "none", "background": "transparent", "cursor": "pointer",
                   "font_size": "14px", "border_radius": "6px",
                   "font_weight": rx.cond(current == code, "700", "400"),
                   "text_decoration": rx.cond(current == code, "underline", "none")},
        )
        for code in LOCALES
    ]
    return rx.el.nav(
        *buttons,
        aria_label=_("Language"),
        id="language-switcher",
        data_lang=marker,
        style={"display": "flex", "align_items": "center", "gap": "2px"},
    )
