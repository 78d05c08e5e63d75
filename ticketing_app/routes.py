"""Every page path in one place, with URL builders."""

from __future__ import annotations

HOME = "/"
EVENT = "/event/[event_id]"
QUEUE = "/event/[event_id]/queue"  # the event's virtual waiting room


def event_url(event_id: int) -> str:
    return f"/event/{event_id}"


def queue_url(event_id: int) -> str:
    return f"/event/{event_id}/queue"
