"""A development mail sink (aiosmtpd) on a free port: `ticketing up` starts one when no
SMTP_URL is set, so a new user sees the confirmation mail; the tests deliver to it too.

Each message is kept in memory (`messages`, for tests) and, given a directory, written there
as an .eml file, which the web app lists at /api/dev/mail (only while DEV_MAIL_DIR names it).
"""

from __future__ import annotations

import email
import email.policy
import itertools
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from ticketing_app.embedded import free_port

KEEP = 50  # files kept in the directory: the newest


@dataclass
class SmtpSink:
    directory: Path | None = None
    messages: list[EmailMessage] = field(default_factory=list)
    port: int = 0
    _controller: Controller | None = None
    _seq: itertools.count[int] = field(default_factory=itertools.count)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(msg)  # type: ignore[arg-type]
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"{time.time_ns():020d}-{next(self._seq):06d}.eml"
            (self.directory / name).write_bytes(envelope.content)
            for old in sorted(self.directory.glob("*.eml"))[:-KEEP]:
                old.unlink(missing_ok=True)
        return "250 Message accepted for delivery"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self, port: int = 0) -> SmtpSink:
        self.port = port or free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def read_mails(directory: Path, limit: int = 20) -> list[EmailMessage]:
    """The newest mails a sink wrote to `directory`, newest first."""
    files = sorted(directory.glob("*.eml"), reverse=True)[:limit] if directory.is_dir() else []
    out = []
    for f in files:
        msg = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
        out.append(msg)
    return out  # type: ignore[return-value]


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""
