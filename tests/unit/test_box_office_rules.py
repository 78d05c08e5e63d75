"""Issue 18's pure rules: what each role may do, which page a path is, how the search reads
an order reference, the dashboard's chart minutes, and CSV cells that cannot be formulas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ticketing_app import routes
from ticketing_app.api.routes.box_office import csv_cell
from ticketing_app.db.models import SalesTimeline
from ticketing_app.domain.roles import Capability, Role, may, parse_role
from ticketing_app.services.box_office import clean_query, order_ref
from ticketing_app.services.dashboard import timeline_minutes


def test_door_staff_may_only_check_in_and_unknown_roles_nothing() -> None:
    assert may("manager", Capability.MANAGE) and may("manager", Capability.CHECK_IN)
    assert may("door", Capability.CHECK_IN) and not may("door", Capability.MANAGE)
    assert not may("superuser", Capability.CHECK_IN)  # a newer release's role: nothing
    assert parse_role(" Door ") is Role.DOOR
    with pytest.raises(ValueError):
        parse_role("admin")


@pytest.mark.parametrize(("pattern", "path", "matches"), [
    (routes.ADMIN_CHECKIN, "/admin/events/42/checkin", True),
    (routes.ADMIN_CHECKIN, "/admin/events/42/checkin/?x=1", True),
    (routes.ADMIN_CHECKIN, "/admin/events/42", False),
    (routes.ADMIN_CHECKIN, "/admin/events//checkin", False),
    (routes.ADMIN_DOOR, "/admin/door", True),
    (routes.ADMIN_DOOR, "/admin/doors", False),
])
def test_route_patterns_match_paths(pattern: str, path: str, matches: bool) -> None:
    assert routes.route_matches(pattern, path) is matches


def test_order_references_and_queries() -> None:
    assert order_ref("313") == order_ref("#313") == order_ref("Order #313") == 313
    assert order_ref("kim") is None and order_ref("99999999999") is None
    assert clean_query("  a\x00b\n ") == "ab"
    assert len(clean_query("x" * 500)) == 200


def test_a_single_minute_of_sales_is_one_bar_among_ten() -> None:
    t = datetime(2027, 3, 1, 19, 30, tzinfo=UTC)
    rows = [SalesTimeline(event_id=1, minute=t, seats_sold=4, revenue=200)]
    out = timeline_minutes(rows)
    assert len(out) == 10 and out[-1] == {"minute": "19:30", "sold": 4, "total": 4,
                                          "revenue": 200}
    assert all(m["sold"] == 0 for m in out[:-1])
    rows.append(SalesTimeline(event_id=1, minute=t + timedelta(minutes=12), seats_sold=1,
                              revenue=50))
    out = timeline_minutes(rows)  # quiet minutes in between are zero, totals carry on
    assert len(out) == 13 and out[-1]["total"] == 5 and out[5]["sold"] == 0
    assert timeline_minutes([]) == []


def test_csv_cells_that_would_be_formulas_are_text() -> None:
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_cell("@SUM") == "'@SUM" and csv_cell("-1+2") == "'-1+2"
    assert csv_cell("Kim") == "Kim" and csv_cell(5) == 5


def test_every_admin_handler_needs_a_manager_but_the_check_in_pages() -> None:
    """The middleware's table over every handler the admin states register (Reflex's
    generated setters too): only the check-in page's handlers are door staff's."""
    import ticketing_app.pages.admin  # noqa: F401  (registers every admin page and state)
    from ticketing_app.state.roles import admin_states, required

    door_ok = {("AdminCheckinState", n) for n in ("load", "check", "check_ticket",
                                                  "search_name", "set_gate")}
    door_ok |= {("AdminDoorState", "load")}
    seen = set()
    for cls in admin_states().values():
        for name, h in cls.event_handlers.items():
            key = (cls.__name__, name)
            seen.add(key)
            on_manager_page = required(h.fn, "/admin/events/7")
            if key == ("AdminLoginState", "load"):
                assert on_manager_page is None  # the login page needs no session
            elif key in door_ok:
                assert on_manager_page is Capability.CHECK_IN, key
            else:
                assert on_manager_page is Capability.MANAGE, key
            if key == ("AdminState", "guard"):
                assert required(h.fn, "/admin/events/7/checkin") is Capability.CHECK_IN
                assert required(h.fn, "/admin/door") is Capability.CHECK_IN
    assert door_ok <= seen and len(seen) >= 40
    assert ("AdminOrderState", "confirm_refund") in seen
    assert ("AdminCheckinState", "setvar") in seen  # a generated setter is a manager's


def test_an_order_never_paid_has_paid_nothing_and_refunds_lower_the_total() -> None:
    from ticketing_app.db.models import Order, OrderItem
    from ticketing_app.services.box_office import order_money
    from ticketing_app.services.order_records import OrderView

    items = [OrderItem(order_id=1, seat_id=s, price=50000, currency="KRW", refunded=s == 1)
             for s in (1, 2)]

    def view(status: str) -> OrderView:
        return OrderView(Order(id=1, event_id=1, buyer_id="b", status=status, total=100000,
                               idempotency_key="k", lock_token=status,
                               payment_deadline=datetime.now(UTC)), items)

    m = order_money(view("CONFIRMED"))
    assert (m.paid, m.refunded, m.remaining) == (100000, 50000, 50000)
    assert order_money(view("CANCELLED")).remaining == 0
    assert order_money(view("CREATED")).paid == 0
