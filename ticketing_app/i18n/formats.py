"""Numbers, money and times as the reader's language writes them (Babel, CLDR data).

Money is integer minor units with a currency; the currency's own precision decides the
decimals (KRW and JPY have none, so 52000 is "₩52,000", in Korean "52,000원"). Times are
stored in UTC and shown in the venue's time zone, with the zone named, so a buyer abroad reads
the local start time and knows it is local.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel import dates as bdates
from babel import numbers as bnumbers

from ticketing_app.domain.seats import row_label
from ticketing_app.i18n.core import _, current_locale
from ticketing_app.settings import get_settings

# Currencies whose everyday Korean spelling is a suffix ("52,000원"), not CLDR's "₩52,000".
_KO_SUFFIX = {"KRW": "원"}
# Section names that a seat's name leaves out (a one-section hall has no section to say).
PLAIN_SECTIONS = frozenset({"", "Main", "Floor"})


def _plain_spaces(text: str) -> str:
    """CLDR puts narrow no-break spaces in times ("7:30\u202fPM"): plain ones read the same,
    match what people type, and every font (the PDF's too) has them."""
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def currency_digits(currency: str) -> int:
    return int(bnumbers.get_currency_precision(currency.upper()))


def money_value(amount_minor: int, currency: str) -> Decimal:
    return Decimal(int(amount_minor)).scaleb(-currency_digits(currency))


def money_input(amount_minor: int, currency: str) -> str:
    """An amount as an organiser types it in the currency's units: 52000 KRW -> "52000",
    1250 USD (cents) -> "12.50"."""
    return f"{money_value(amount_minor, currency):f}"


def parse_money(text: str, currency: str) -> int:
    """What an organiser typed, in the currency's units ("52,000", "12.5"), as integer minor
    units; ValueError for anything else, or for more decimals than the currency has."""
    raw = (text or "").strip().replace(",", "").replace(" ", "")
    try:
        value = Decimal(raw)
    except ArithmeticError:
        raise ValueError(f"{text!r} is not an amount") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not an amount")
    minor = value.scaleb(currency_digits(currency))
    if minor != minor.to_integral_value():
        digits = currency_digits(currency)
        raise ValueError(f"{currency.upper()} amounts have {digits} decimal(s) at most")
    return int(minor)


def format_money(amount_minor: int, currency: str, locale: str | None = None) -> str:
    """`52000, "KRW"` -> "₩52,000" (en) or "52,000원" (ko); never decimals KRW lacks."""
    loc = locale or current_locale()
    cur = currency.upper()
    value = money_value(amount_minor, cur)
    if loc == "ko" and cur in _KO_SUFFIX:
        return bnumbers.format_decimal(value, locale=loc) + _KO_SUFFIX[cur]
    return _plain_spaces(bnumbers.format_currency(value, cur, locale=loc, currency_digits=True))


def format_number(n: int | float | Decimal, locale: str | None = None) -> str:
    return bnumbers.format_decimal(n, locale=locale or current_locale())


def format_percent(n: float, locale: str | None = None) -> str:
    return bnumbers.format_percent(n, locale=locale or current_locale())


@lru_cache(maxsize=256)
def zone(name: str | None) -> ZoneInfo:
    """A time zone by its IANA name; the default zone (DEFAULT_TIME_ZONE) for none or an
    unknown one, so a bad value never breaks a page."""
    for candidate in (name, get_settings().default_time_zone, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return bool(name)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def format_event_time(dt: datetime, tz: str | None, locale: str | None = None,
                      with_zone: bool = True) -> str:
    """A start time in the venue's zone, e.g. "Mon, Mar 1, 2027, 7:30 PM (South Korea Time)"
    or "2027년 3월 1일 (월) 오후 7:30 (대한민국 시간)"."""
    loc = locale or current_locale()
    z = zone(tz)
    local = _aware(dt).astimezone(z)
    date = bdates.format_skeleton("yMMMEd", local, locale=loc)
    time = bdates.format_time(local, "short", locale=loc)
    pattern = Locale.parse(loc).datetime_formats["medium"]
    when = _plain_spaces(str(pattern).replace("{1}", date).replace("{0}", time))
    if not with_zone:
        return when
    return _("{when} ({zone})", when=when, zone=zone_name(z, loc))


def format_date(dt: datetime, tz: str | None, locale: str | None = None) -> str:
    """A day in the venue's zone: "Mon, Mar 1, 2027" / "2027년 3월 1일 (월)"."""
    loc = locale or current_locale()
    return bdates.format_skeleton("yMMMEd", _aware(dt).astimezone(zone(tz)), locale=loc)


def format_timestamp(dt: datetime, tz: str | None, locale: str | None = None) -> str:
    """A moment in a log or a list (admin pages): short date and time with seconds."""
    loc = locale or current_locale()
    return _plain_spaces(bdates.format_datetime(_aware(dt).astimezone(zone(tz)), "medium",
                                                locale=loc))


def zone_name(z: ZoneInfo, locale: str | None = None) -> str:
    """"South Korea Time" / "대한민국 시간": the zone by its place, as people say it."""
    return str(bdates.get_timezone_location(z, locale=locale or current_locale()))


def seat_label(section: str, row: int | str, seat: int) -> str:
    """A seat's name for people: "Row C seat 7" / "C열 7번", with the section when the
    venue has several ("Balcony Row H seat 2"). `row` is a row number or its letters."""
    letters = row if isinstance(row, str) else row_label(row)
    if section in PLAIN_SECTIONS:
        return _("Row {row} seat {seat}", row=letters, seat=seat)
    return _("{section} Row {row} seat {seat}", section=section, row=letters, seat=seat)
