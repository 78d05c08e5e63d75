#!/usr/bin/env python
"""Extract every marked message from the sources into the catalogs (ticketing_app/i18n/locale).

    python scripts/i18n.py          # update ko and en, list what Korean still lacks
    python scripts/i18n.py --check  # exit 1 if a catalog is out of date or Korean incomplete

New messages arrive empty; write the Korean in ticketing_app/i18n/locale/ko/LC_MESSAGES/
messages.po (the English catalog's msgids are the English text). docs/i18n.md has the rules.
"""

from __future__ import annotations

import sys

from ticketing_app.i18n.catalogs import po_path
from ticketing_app.i18n.negotiate import LOCALES
from ticketing_app.i18n.tooling import extract, render, untranslated, updated


def main() -> int:
    check = "--check" in sys.argv[1:]
    template = extract()
    status = 0
    for locale in LOCALES:
        catalog = updated(locale, template)
        new = render(catalog)
        path = po_path(locale)
        if check:
            if not path.exists() or path.read_bytes() != new:  # a header stays byte-equal
                print(f"{path} is out of date: run python scripts/i18n.py")
                status = 1
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(new)
        if locale != "en":
            missing = untranslated(catalog)
            for msg in missing:
                print(f"{locale}: untranslated: {msg!r}")
            status |= 1 if (missing and check) else 0
    return status


if __name__ == "__main__":
    sys.exit(main())
