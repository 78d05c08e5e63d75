"""Mail delivery for notifications, outside any database transaction.

The notifications consumer stores each message (`delivered_via = 'pending'` when SMTP_URL is
set and the buyer left an address, else 'log'); this loop sends pending ones over SMTP
(aiosmtplib) and marks them 'smtp'. A refused recipient (5xx) is marked 'rejected'; a server
that is down leaves them pending for the next round, so nothing is lost. A message a killed
process was sending goes back to pending at start: a rare duplicate beats a lost ticket.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
import structlog
from sqlalchemy import select, update
from sqlmodel import col

from ticketing_app.bootstrap import Runtime
from ticketing_app.db.models import Notification
from ticketing_app.settings import Settings

log = structlog.get_logger(__name__)

POLL_S = 1.0
BATCH = 50


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool


def parse_smtp_url(url: str) -> SmtpTarget:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("SMTP_URL must look like smtp://user:pass@host:port or smtps://...")
    query = parse_qs(parts.query)
    tls = parts.scheme == "smtps"
    return SmtpTarget(
        host=parts.hostname, port=parts.port or (465 if tls else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=tls, start_tls=query.get("starttls", ["0"])[0] in ("1", "true", "yes"),
    )


def build_message(settings: Settings, n: Notification) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = n.recipient or ""
    msg["Subject"] = n.subject
    msg["Message-ID"] = f"<{n.event_uuid}@ticketing>"  # the same id on a rare re-send
    msg.set_content(n.body)
    return msg


async def send(settings: Settings, n: Notification) -> None:
    t = parse_smtp_url(settings.smtp_url)
    await aiosmtplib.send(build_message(settings, n), hostname=t.host, port=t.port,
                          username=t.username, password=t.password, use_tls=t.use_tls,
                          start_tls=t.start_tls, timeout=15)


async def deliver_pending(rt: Runtime) -> int:
    """One round; returns how many were sent."""
    async with rt.db.read_sessions() as s:
        pending = list((await s.execute(select(Notification).where(
            col(Notification.delivered_via) == "pending").order_by(col(Notification.id))
            .limit(BATCH))).scalars())
    sent = 0
    for n in pending:
        if not await _mark(rt, n.id, "pending", "sending"):
            continue  # another process took it
        try:
            await send(rt.settings, n)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            log.warning("mail_rejected", notification=n.id, error=str(exc)[:200])
            await _mark(rt, n.id, "sending", "rejected")
            continue
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            log.warning("mail_deferred", notification=n.id, error=str(exc)[:200])
            await _mark(rt, n.id, "sending", "pending")
            break  # the server is away: try again next round
        await _mark(rt, n.id, "sending", "smtp")
        sent += 1
        log.info("mail_sent", notification=n.id, kind=n.kind)
    return sent


async def _mark(rt: Runtime, nid: int | None, old: str, new: str) -> bool:
    res = await rt.db.write_one(update(Notification).where(
        col(Notification.id) == nid, col(Notification.delivered_via) == old)
        .values(delivered_via=new))
    return res.rowcount == 1


async def mail_loop(rt: Runtime, stop: asyncio.Event) -> None:
    if not rt.settings.smtp_url:
        return
    parse_smtp_url(rt.settings.smtp_url)  # a bad setting fails at start, loudly
    async with rt.db.write_sessions() as s:
        await s.execute(update(Notification).where(col(Notification.delivered_via) == "sending")
                        .values(delivered_via="pending"))
        await s.commit()
    while not stop.is_set():
        try:
            n = await deliver_pending(rt)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # database away for a moment
            log.warning("mail_loop_error", error=str(exc)[:200])
            n = 0
        if n:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL_S)
