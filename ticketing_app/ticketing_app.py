"""The Reflex app: pages, the REST API (its request layer put in front of Reflex's routes
through `api_transformer`), and the process's lifespan task (`lifespan.py`). Nothing here holds
business rules. `web_asgi` is what the web server serves: API requests skip Reflex's outer
layers."""

from __future__ import annotations

import reflex as rx

from ticketing_app import routes
from ticketing_app.api.app import create_api
from ticketing_app.api.edge import FastLane
from ticketing_app.components.connection import connection_notice
from ticketing_app.components.event_notice import EventNoticeState
from ticketing_app.components.loading import loading_fallback, loading_head
from ticketing_app.components.presale import PresaleState
from ticketing_app.components.waitlist import OfferState, WaitlistState, offer_page
from ticketing_app.lifespan import web_lifespan
from ticketing_app.live.rooms import reference_broadcast
from ticketing_app.pages.admin import register_admin_pages
from ticketing_app.pages.checkout import checkout_page
from ticketing_app.pages.event import event_page
from ticketing_app.pages.events import EventListState, events_page
from ticketing_app.pages.my_tickets import my_tickets_page
from ticketing_app.pages.order_link import find_order_page, order_link_page
from ticketing_app.pages.waiting_room import waiting_room_page
from ticketing_app.settings import get_settings
from ticketing_app.state.cart import CartState
from ticketing_app.state.checkout import CheckoutState
from ticketing_app.state.find_order import FindOrderState
from ticketing_app.state.locale import LocaleMiddleware
from ticketing_app.state.my_tickets import MyTicketsState
from ticketing_app.state.order_link import OrderLinkState
from ticketing_app.state.roles import RoleMiddleware
from ticketing_app.state.seat_map import SeatMapState
from ticketing_app.state.waiting_room import WaitingRoomState

api = create_api()
app = rx.App(api_transformer=api.edge.wrap, head_components=loading_head(),
             hydrate_fallback=loading_fallback)
# The buyer's own words when the connection drops, instead of Reflex's developer toast.
app.app_wraps[(5, "Overlay")] = lambda stateful: connection_notice() if stateful else None
# First, before hydration's: every event is handled in the reader's language.
app.add_middleware(LocaleMiddleware(), index=0)
# Then the admin pages' one role check (state/roles.py): refused events never reach a handler.
app.add_middleware(RoleMiddleware(), index=1)
app.register_lifespan_task(web_lifespan)
app.add_page(events_page, route=routes.HOME, title="Events", on_load=EventListState.load)
app.add_page(event_page, route=routes.EVENT, title="Seats",
             on_load=[SeatMapState.load, CartState.load, EventNoticeState.load,
                      PresaleState.load, WaitlistState.load])
app.add_page(offer_page, route=routes.OFFER, title="Waitlist offer", on_load=OfferState.claim)
app.add_page(checkout_page, route=routes.CHECKOUT, title="Checkout",
             on_load=[CartState.load, CheckoutState.load])
app.add_page(waiting_room_page, route=routes.QUEUE, title="Waiting room",
             on_load=WaitingRoomState.join)
app.add_page(my_tickets_page, route=routes.MY_TICKETS, title="My tickets",
             on_load=MyTicketsState.load)
app.add_page(order_link_page, route=routes.ORDER_LINK, title="Your order",
             on_load=OrderLinkState.load)
app.add_page(find_order_page, route=routes.FIND_ORDER, title="Find my order",
             on_load=FindOrderState.load)
register_admin_pages(app)

if get_settings().dev_mail_dir:  # `ticketing up`'s development mail sink (never production)
    from ticketing_app.api.dev_mail import router as dev_mail_router

    api.include_router(dev_mail_router)

if get_settings().live_sync_reference:  # benchmarks only (refused in production)

    @api.post("/api/live/reference/{event_id}", include_in_schema=False)
    async def live_reference(event_id: int, seq: int, stock: bool = True) -> dict[str, int]:
        """Scenario 5's reference: the event's last broadcast again, bare, to its room
        (`stock`: with python-socketio's own room emit, else with the hub's)."""
        sessions = await reference_broadcast(SeatMapState.get_full_name(), event_id, seq,
                                             stock)
        return {"sessions": sessions}


def web_asgi() -> FastLane:
    """The web server's ASGI app (a factory: Reflex builds its stack when called)."""
    return FastLane(app(), api.edge)
