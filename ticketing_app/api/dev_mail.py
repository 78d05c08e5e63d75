"""/api/dev/mail: the development mail sink's last mails, readable in the browser, so a new user
of `ticketing up` sees the confirmation (and opens its link). Mounted only while DEV_MAIL_DIR
names the sink's directory, which `up` sets when it runs the sink (refused in production)."""

from __future__ import annotations

import html
import re
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ticketing_app.devmail import read_mails, text_of
from ticketing_app.i18n import _, locale_from_headers, use_locale
from ticketing_app.routes import DEV_MAIL
from ticketing_app.settings import get_settings

router = APIRouter(include_in_schema=False)
_URL = re.compile(r"https?://[^\s<>\"]+")


def _linked(text: str) -> str:
    out, pos = [], 0
    for m in _URL.finditer(text):
        out.append(html.escape(text[pos:m.start()]))
        url = html.escape(m.group(0))
        out.append(f'<a href="{url}">{url}</a>')
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


@router.get(DEV_MAIL, response_class=HTMLResponse)
async def dev_mail(request: Request) -> HTMLResponse:
    locale = locale_from_headers(request.headers.get("cookie", ""),
                                 request.headers.get("accept-language", ""))
    mails = read_mails(Path(get_settings().dev_mail_dir))
    with use_locale(locale):
        title = _("Development mail: the last messages sent")
        empty = _("No mail yet. Buy a ticket with an e-mail address and reload.")
        rows = "".join(
            f'<article class="mail"><h2>{html.escape(str(m["Subject"]))}</h2>'
            f'<p class="meta">{html.escape(_("To: {to}", to=str(m["To"])))} · '
            f'{html.escape(str(m["Date"] or ""))}</p>'
            f"<pre>{_linked(text_of(m))}</pre></article>"
            for m in mails) or f"<p>{html.escape(empty)}</p>"
    page = (f'<!doctype html><html lang="{locale}"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;"
            "max-width:50em;margin:2em auto;padding:0 1em}pre{white-space:pre-wrap;"
            "background:#f3f4f6;padding:1em;border-radius:6px}.meta{color:#6b7280}"
            f"</style></head><body><h1>{html.escape(title)}</h1>{rows}</body></html>")
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})
