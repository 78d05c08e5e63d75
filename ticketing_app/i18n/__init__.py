"""Korean and English for every text a buyer or an admin reads (docs/i18n.md).

Server-side text calls `_()` / `ngettext()` from here; the language is the reader's
(`current_locale`). Numbers, money and times go through `formats` (Babel). Components call the
browser-side `_()` of `components/i18n.py`, which draws from the same catalogs.
"""

from ticketing_app.i18n.core import (
    N_,
    _,
    current_locale,
    default_locale,
    gettext,
    locale_from_headers,
    ngettext,
    pgettext,
    set_locale,
    use_locale,
)
from ticketing_app.i18n.formats import (
    format_date,
    format_event_time,
    format_money,
    format_number,
    format_timestamp,
    money_input,
    parse_money,
    seat_label,
    valid_zone,
    zone,
)
from ticketing_app.i18n.negotiate import LOCALES, NAMES, SOURCE_LOCALE, negotiate

__all__ = [
    "LOCALES",
    "NAMES",
    "N_",
    "SOURCE_LOCALE",
    "_",
    "current_locale",
    "default_locale",
    "format_date",
    "format_event_time",
    "format_money",
    "format_number",
    "format_timestamp",
    "gettext",
    "locale_from_headers",
    "money_input",
    "negotiate",
    "ngettext",
    "parse_money",
    "pgettext",
    "seat_label",
    "set_locale",
    "use_locale",
    "valid_zone",
    "zone",
]
