"""Korean and English (docs/i18n.md): the Korean catalog translates every message the code
marks, with the same placeholders; no text a buyer or an admin reads is left unmarked; money
and times are written the reader's way, in the venue's time zone."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ticketing_app.i18n import (
    format_event_time,
    format_money,
    negotiate,
    seat_label,
    use_locale,
)
from ticketing_app.i18n.catalogs import read_catalog, reload_catalogs
from ticketing_app.i18n.negotiate import LOCALES, SOURCE_LOCALE, parse_accept_language
from ticketing_app.i18n.tooling import extract, placeholder_mismatches, untranslated

ROOT = Path(__file__).resolve().parents[2]
# Where buyer- and admin-facing text is written: the Reflex UI, the mail, the ticket PDF.
READER_FACING = [
    *sorted((ROOT / "ticketing_app" / "pages").glob("*.py")),
    *sorted((ROOT / "ticketing_app" / "components").glob("*.py")),
    *sorted((ROOT / "ticketing_app" / "state").glob("*.py")),
    ROOT / "backend_jobs" / "notifications.py",
    ROOT / "ticketing_app" / "services" / "ticket_docs.py",
]
# Modules whose text is not marked yet: none (every page is translated); a module may only
# be listed here with the reason it cannot be.
NOT_YET_MARKED: set[str] = set()
MARKERS = {"_", "N_", "gettext", "ngettext", "pgettext", "npgettext", "lazy_gettext"}
# A line that says `# i18n: ignore` holds no reader-facing text (a hidden test hook).
IGNORE = "# i18n: ignore"
CODE = re.compile(r"[{}();=<>\\]|://|^/|^[#.]|\$\{")
PROSE = re.compile(r"^[A-Z][a-z]|[A-Za-z]{2,} +[A-Za-z]|[A-Za-z]{2,}[.!?…:]$")
TECHNICAL_KWARGS = {"id", "class_name", "key", "href", "src", "type", "name", "method",
                    "action", "role", "as_", "color_scheme", "variant", "size", "weight",
                    "align", "justify", "spacing", "direction", "font_family", "lang",
                    "rel", "target", "auto_complete", "input_mode", "pattern", "accept",
                    "style"}


def looks_like_prose(text: str) -> bool:
    text = text.strip()
    return bool(text) and not CODE.search(text) and bool(PROSE.search(text))


def unmarked_strings(path: Path, root: Path = ROOT) -> list[str]:
    source = path.read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    skip: set[int] = set()  # ids of string nodes that are not text for readers

    def mark_skipped(node: ast.AST) -> None:
        for sub in ast.walk(node):
            skip.add(id(sub))

    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef |
                      ast.ClassDef) and body and isinstance(body[0], ast.Expr) and \
                isinstance(body[0].value, ast.Constant):
            skip.add(id(body[0].value))  # a docstring
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(
                fn, ast.Attribute) else ""
            if name in MARKERS:
                mark_skipped(node)
            elif isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name) and \
                    fn.value.id in {"log", "logger", "structlog"}:
                mark_skipped(node)  # log lines are for operators, in English
            for kw in node.keywords:
                if kw.arg in TECHNICAL_KWARGS or (kw.arg or "").startswith(("data_", "on_")):
                    mark_skipped(kw.value)
        elif isinstance(node, ast.Dict):
            for k in node.keys:
                if k is not None:
                    mark_skipped(k)
        elif isinstance(node, ast.Subscript):
            mark_skipped(node.slice)
        elif isinstance(node, ast.Compare):
            mark_skipped(node)
        elif isinstance(node, ast.Raise) and node.exc is not None and isinstance(
                node.exc, ast.Call) and isinstance(node.exc.func, ast.Name) and \
                node.exc.func.id in {"ValueError", "RuntimeError", "TypeError"}:
            mark_skipped(node)  # programming errors, not messages

    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant)
                           and isinstance(v.value, str))
            for v in node.values:
                skip.add(id(v))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        line = lines[node.lineno - 1] if node.lineno <= len(lines) else ""
        if IGNORE in line or not looks_like_prose(text):
            continue
        found.append(f"{path.relative_to(root)}:{node.lineno}: {text.strip()[:60]!r}")
    return sorted(found, key=lambda f: int(f.split(":")[1]))


def test_no_text_for_readers_is_left_unmarked() -> None:
    found = []
    for path in READER_FACING:
        if str(path.relative_to(ROOT)) not in NOT_YET_MARKED:
            found += unmarked_strings(path)
    assert found == [], "mark these with _() (components: components/i18n.py):\n" + \
        "\n".join(found)


def test_the_scanner_finds_unmarked_text(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('import reflex as rx\n'
                      'from ticketing_app.components.i18n import _\n'
                      'def page():\n'
                      '    """A docstring is not text for readers."""\n'
                      '    return rx.vstack(rx.heading("Events"), rx.text(_("Total")),\n'
                      '                     rx.button(f"Order #{1}", id="place-order"),\n'
                      '                     rx.text("hidden hook"),  # i18n: ignore\n'
                      '                     rx.icon("shopping-cart"), color_scheme="red",\n'
                      '                     aria_label="Close cart")\n')
    found = [f.rsplit(": ", 1)[1] for f in unmarked_strings(sample, root=tmp_path)]
    assert found == ["'Events'", "'Order #'", "'Close cart'"]


def test_korean_catalog_translates_every_message_in_the_code() -> None:
    reload_catalogs()
    wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in extract() if m.id}
    for locale in LOCALES:
        catalog = read_catalog(locale)
        have = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
        missing = sorted(wanted - have)
        assert missing == [], f"{locale}: not in the catalog (run python scripts/i18n.py): " \
                              f"{missing[:20]}"
    korean = read_catalog("ko")
    assert untranslated(korean) == [], "empty Korean entries"
    assert placeholder_mismatches(korean) == []


def test_every_shipped_language_but_the_source_is_complete() -> None:
    for locale in LOCALES:
        if locale != SOURCE_LOCALE:
            assert untranslated(read_catalog(locale)) == [], locale


def test_the_empty_entry_check_catches_an_empty_or_fuzzy_translation() -> None:
    from babel.messages.catalog import Catalog

    c = Catalog(locale="ko")
    c.add("Total", "합계")
    c.add("Checkout", "")
    c.add("Extend", "연장", flags=["fuzzy"])
    c.add(("{n} seat", "{n} seats"), ("{n}석",))
    c.add(("{n} ticket", "{n} tickets"), ("",))
    assert untranslated(c) == ["Checkout", "Extend", "{n} ticket"]
    c2 = Catalog(locale="ko")
    c2.add("Hello {name}", "안녕하세요 {이름}")
    assert placeholder_mismatches(c2)


@pytest.mark.parametrize(("header", "cookie", "expected"), [
    ("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", "", "ko"),
    ("en-US,en;q=0.9", "", "en"),
    ("fr-FR,fr;q=0.9,en;q=0.5,ko;q=0.8", "", "ko"),
    ("fr-FR", "", "ko"),  # none we have: the default (DEFAULT_LOCALE)
    ("", "", "ko"),
    ("en-US", "tk_lang=ko", "ko"),  # the switcher's choice wins
    ("ko", "a=1; tk_lang=en", "en"),
    ("en;q=0, ko", "", "ko"),
    ("en", "tk_lang=xx", "en"),  # a cookie naming no language of ours is ignored
])
def test_the_readers_language(header: str, cookie: str, expected: str) -> None:
    assert negotiate(cookie, header, "tk_lang", "ko") == expected


def test_accept_language_order_honours_q_values() -> None:
    assert parse_accept_language("en;q=0.5, ko-KR;q=0.8, de") == ("ko", "en")


def test_won_has_no_decimals_and_other_currencies_keep_theirs() -> None:
    assert format_money(52000, "KRW", "en") == "₩52,000"
    assert format_money(52000, "KRW", "ko") == "52,000원"
    assert format_money(1234550, "KRW", "ko") == "1,234,550원"
    assert format_money(123450, "USD", "en") == "$1,234.50"
    assert format_money(500, "JPY", "en") == "¥500"


def test_times_are_shown_in_the_venues_zone_in_the_readers_language() -> None:
    start = datetime(2027, 3, 1, 10, 30, tzinfo=UTC)  # 19:30 in Seoul
    assert format_event_time(start, "Asia/Seoul", "en") == \
        "Mon, Mar 1, 2027, 7:30 PM (South Korea Time)"
    with use_locale("ko"):
        assert format_event_time(start, "Asia/Seoul") == \
            "2027년 3월 1일 (월) 오후 7:30 (대한민국 시간)"
    with use_locale("en"):
        assert format_event_time(start, "Europe/London").startswith(
            "Mon, Mar 1, 2027, 10:30 AM")
        assert format_event_time(start, "No/Such_Zone").startswith("Mon, Mar 1, 2027, 7:30 PM")


def test_seat_names_in_both_languages() -> None:
    with use_locale("en"):
        assert seat_label("Main", 3, 7) == "Row C seat 7"
        assert seat_label("Balcony", "H", 2) == "Balcony Row H seat 2"
    with use_locale("ko"):
        assert seat_label("Main", 3, 7) == "C열 7번"
        assert seat_label("Balcony", "H", 2) == "Balcony H열 2번"
