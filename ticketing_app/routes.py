"""Every page path in one place, with URL builders."""

from __future__ import annotations

HOME = "/"
EVENT = "/event/[event_id]"


def event_url(event_id: int) -> str:
    return f"/event/{event_id}"
