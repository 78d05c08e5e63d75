"""Extraction and catalog upkeep (Babel): what `scripts/i18n.py` runs and what the i18n test
checks. Every `_()`, `N_()`, `ngettext()`, `pgettext()` in ticketing_app/ and backend_jobs/ is
a message; the catalogs are updated from them without fuzzy guesses, so a new or changed
message stays untranslated (and the test fails) until a translator writes it."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po

from ticketing_app.i18n.catalogs import DOMAIN, po_path
from ticketing_app.i18n.negotiate import LOCALES, SOURCE_LOCALE

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("ticketing_app", "backend_jobs")
KEYWORDS = dict(DEFAULT_KEYWORDS)
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Fixed header values: an update that changes no message changes no byte.
STAMP = datetime(2026, 12, 1, tzinfo=UTC)
TEAM = "ticketing contributors"


def extract() -> Catalog:
    """Every message in the sources, with where it is used and the translators' comments."""
    template = Catalog(project="ticketing", version="1", domain=DOMAIN, charset="utf-8",
                       fuzzy=False, creation_date=STAMP, revision_date=STAMP,
                       copyright_holder=TEAM, msgid_bugs_address="-", last_translator=TEAM,
                       language_team=TEAM)
    for source in SOURCES:
        for filename, lineno, message, comments, context in extract_from_dir(
                ROOT / source, method_map=[("**.py", "python")], keywords=KEYWORDS,
                comment_tags=("Translators:",), strip_comment_tags=True):
            if not message or (isinstance(message, tuple) and not message[0]):
                continue
            template.add(message, None, [(f"{source}/{filename}", lineno)],
                         auto_comments=comments, context=context)
    return template


def updated(locale: str, template: Catalog) -> Catalog:
    """The locale's catalog with every current message (new ones empty), none obsolete."""
    path = po_path(locale)
    if path.exists():
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=locale, domain=DOMAIN)
    else:
        catalog = Catalog(locale=locale, domain=DOMAIN, project="ticketing", fuzzy=False)
    catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
    catalog.obsolete.clear()
    catalog.fuzzy = False
    catalog.project, catalog.version = "ticketing", "1"
    catalog.creation_date = catalog.revision_date = STAMP
    catalog.last_translator = catalog.language_team = TEAM
    catalog.msgid_bugs_address = "-"
    catalog.header_comment = (f"# {locale} messages of ticketing (the booking and admin web "
                              "app, mail, tickets).\n# Update with: python scripts/i18n.py")
    return catalog


def render(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=100, sort_output=False, sort_by_file=True,
             ignore_obsolete=True, include_previous=False, include_lineno=False)
    return out.getvalue()


def write_catalogs() -> dict[str, int]:
    """Updates every catalog file; returns, per locale, how many messages lack a
    translation (the source language's never do: its msgids are the text)."""
    template = extract()
    missing: dict[str, int] = {}
    for locale in LOCALES:
        catalog = updated(locale, template)
        path = po_path(locale)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(render(catalog))
        missing[locale] = 0 if locale == SOURCE_LOCALE else len(untranslated(catalog))
    return missing


def texts(value: object) -> tuple[str, ...]:
    """A message's ids or strings as a tuple (plural messages have several)."""
    if isinstance(value, tuple | list):
        return tuple(str(v or "") for v in value)
    return (str(value or ""),)


def untranslated(catalog: Catalog) -> list[str]:
    """Messages without a complete translation (every plural form), or marked fuzzy."""
    out = []
    for m in catalog:
        if not m.id:
            continue
        strings = texts(m.string)
        if m.fuzzy or not strings or not all(s.strip() for s in strings):
            out.append(texts(m.id)[0])
    return out


def placeholder_mismatches(catalog: Catalog) -> list[str]:
    """Translations whose `{name}` placeholders differ from the message's: each would lose a
    value or fail when filled."""
    out = []
    for m in catalog:
        if not m.id:
            continue
        ids = texts(m.id)
        wanted = set().union(*(PLACEHOLDER.findall(i) for i in ids))
        strings = texts(m.string)
        for s in strings:
            used = set(PLACEHOLDER.findall(s)) if s else set()
            # A plural form may leave out {n} (Korean has one form); nothing else may go.
            if s and (used - wanted - {"n"} or (len(strings) == 1 and used != wanted)):
                out.append(f"{ids[0]!r} -> {s!r}")
    return out
