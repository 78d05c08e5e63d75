"""Every page path in one place, with URL builders."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

HOME = "/"
EVENT = "/event/[event_id]"
QUEUE = "/event/[event_id]/queue"  # the event's virtual waiting room
CHECKOUT = "/event/[event_id]/checkout"
OFFER = "/event/[event_id]/offer/[token]"  # a mailed waitlist offer's link
EVENT_PREFIX = "/event/"


def event_url(event_id: int) -> str:
    return f"/event/{event_id}"


def checkout_url(event_id: int) -> str:
    return f"/event/{event_id}/checkout"

# ---- an order without the buyer's browser: the signed link, "find my order" -------------
ORDER_LINK = "/order/[token]"  # the link in the confirmation mail (services/order_access.py)
FIND_ORDER = "/find-order"
# The development mail sink's last mails (only while `up` runs one); an /api path, so the
# API serves it, not Reflex.
DEV_MAIL = "/api/dev/mail"

# ---- admin area and the buyer's tickets (every /admin page but the login needs a session) ----
MY_TICKETS = "/my-tickets"
ADMIN = "/admin"
ADMIN_LOGIN = "/admin/login"
ADMIN_EVENTS = "/admin/events"
ADMIN_EVENT = "/admin/events/[event_id]"
ADMIN_DASHBOARD = "/admin/events/[event_id]/dashboard"
ADMIN_CHECKIN = "/admin/events/[event_id]/checkin"
ADMIN_BOX_OFFICE = "/admin/events/[event_id]/box-office"  # comps and named reservations
ADMIN_VENUES = "/admin/venues"
ADMIN_VENUE = "/admin/venues/[venue_id]"  # the venue editor
ADMIN_AUDIT = "/admin/audit"
ADMIN_DOOR = "/admin/door"  # door staff's start: the events to check in
ADMIN_ORDERS = "/admin/orders"  # the box office's search
ADMIN_ORDER = "/admin/orders/[order_id]"
ADMIN_REPORT = "/admin/events/[event_id]/report"
# The pages door staff may open (domain/roles.py): check-in and its start page.
CHECK_IN_PAGES = (ADMIN_CHECKIN, ADMIN_DOOR)


def route_matches(pattern: str, path: str) -> bool:
    """`/admin/events/[event_id]/checkin` matches `/admin/events/42/checkin` (and a slash at
    the end, a query or a fragment)."""
    want = [p for p in pattern.split("/") if p]
    got = [p for p in path.split("?")[0].split("#")[0].split("/") if p]
    return len(want) == len(got) and all(
        w == g or (w.startswith("[") and w.endswith("]") and g != "")
        for w, g in zip(want, got, strict=True))


def admin_order_url(order_id: int) -> str:
    return f"/admin/orders/{order_id}"


def admin_report_url(event_id: int) -> str:
    return f"/admin/events/{event_id}/report"


def admin_venue_url(venue_id: int) -> str:
    return f"/admin/venues/{venue_id}"


def admin_event_url(event_id: int) -> str:
    return f"/admin/events/{event_id}"


def admin_dashboard_url(event_id: int) -> str:
    return f"/admin/events/{event_id}/dashboard"


def admin_box_office_url(event_id: int) -> str:
    return f"/admin/events/{event_id}/box-office"


def admin_checkin_url(event_id: int) -> str:
    return f"/admin/events/{event_id}/checkin"


def admin_login_url(next_path: str = "", error: str = "") -> str:
    """The login page, with where to go after signing in and why it is shown again, each
    encoded: a `next` with its own `?`, `&` or `#` stays one parameter."""
    from urllib.parse import quote, urlencode

    params = {k: v for k, v in (("error", error), ("next", next_path)) if v}
    return ADMIN_LOGIN + (f"?{urlencode(params, safe='/', quote_via=quote)}" if params else "")

def safe_next(path: str | None) -> str:
    """Only a path inside the admin area (never another site) after signing in."""
    if not path or not path.startswith(ADMIN) or path.startswith("//") or "\\" in path:
        return ADMIN
    if path.startswith(ADMIN_LOGIN):
        return ADMIN
    return path


def next_from_referer(referer: str | None) -> str:
    """Where to go after signing in, read from the login page's own address (the form was
    posted from /admin/login?next=...): the page's hidden `next` field is filled once its
    state has loaded, and a sign-in sent before that (a quick Enter, a password manager)
    would otherwise land on the dashboard instead of the page asked for."""
    if not referer:
        return ADMIN
    url = urlsplit(referer)
    if url.path != ADMIN_LOGIN:
        return ADMIN
    return safe_next(parse_qs(url.query).get("next", [""])[0])


def queue_url(event_id: int) -> str:
    return f"/event/{event_id}/queue"
