"""The hold countdown and the cart drawer.

The countdown ticks in the browser: a React hook keeps the current time, the server sends its
clock and the holds' expiry (CartState). Two watchers click the hidden `#holds-check` button,
which asks the server for the truth: when the countdown reaches zero, and when the live seat map
shows a different number of my seats than the cart (another tab of this browser, a best-available
hold, the sweeper's expiry, a sale). Nothing here decides anything: it only asks.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import NumberVar, ObjectVar, Var, VarData

from ticketing_app import routes
from ticketing_app.components.i18n import _
from ticketing_app.components.seat_map import cells
from ticketing_app.state.cart import WARN_S, CartState
from ticketing_app.state.seat_map import SeatMapState

CHECK_ID = "holds-check"
_REACT = {"react": ["useState", "useEffect", "useMemo"]}
# Arrow keys move the focus from a seat to its neighbour in the same section's grid.
ARROW_KEYS = """useEffect(() => {
  const moves = {ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0]};
  const onKey = (e) => {
    const t = e.target;
    const d = moves[e.key];
    if (!d || !t?.classList?.contains('tk-seat')) return;
    const r = Number(t.dataset.gr) + d[0], c = Number(t.dataset.gc) + d[1];
    const next = t.parentElement?.querySelector(`.tk-seat[data-gr="${r}"][data-gc="${c}"]`);
    if (next) { next.focus(); e.preventDefault(); }
  };
  document.addEventListener('keydown', onKey);
  return () => document.removeEventListener('keydown', onKey);
}, []);"""


def _deps(*vars_: Var[Any]) -> VarData | None:
    return VarData.merge(*(v._get_all_var_data() for v in vars_))


def _clock() -> NumberVar[int]:
    """Seconds left on my earliest hold (-1 without holds), recomputed four times a second."""
    expires, server_now = CartState.expires_at_ms, CartState.server_now_ms
    hooks: dict[str, VarData | None] = {
        "const [tkNow, setTkNow] = useState(() => Date.now());": None,
        "useEffect(() => { const t = setInterval(() => setTkNow(Date.now()), 250); "
        "return () => clearInterval(t); }, []);": None,
        # The server's clock minus ours, taken when the server's answer arrives.
        f"const tkSkew = useMemo(() => ({server_now!s}) - Date.now(), [{server_now!s}]);":
            _deps(server_now),
        # Seat clicks carry their time on the server's clock (state/seat_map.py drops old ones).
        "useEffect(() => { if ((" + f"{server_now!s}" + ") > 0) window.tkSkew = tkSkew; }, "
        "[tkSkew]);": None,
        f"const tkLeft = ({expires!s}) > 0 ? Math.max(0, Math.ceil((({expires!s}) - tkNow - "
        "tkSkew) / 1000)) : -1;": _deps(expires),
        # Zero: ask the server (it announces the expiry and the cart empties).
        "useEffect(() => { if (tkLeft !== 0) return; const t = setTimeout(() => "
        f"document.getElementById('{CHECK_ID}')?.click(), 300); "
        "return () => clearTimeout(t); }, [tkLeft === 0, " + f"{expires!s}]);": None,
    }
    return Var(_js_expr="tkLeft", _var_type=int,
               _var_data=VarData(imports=_REACT, hooks=hooks)).to(int)


def _watch() -> Var[int]:
    """How many seats the live map shows as mine; a mismatch with the cart asks the server."""
    codes, tag, count = cells(), SeatMapState.my_tag, CartState.count
    hooks: dict[str, VarData | None] = {
        f"const tkMine = (({codes!s}) || []).filter((c) => c === ({tag!s})).length;":
            _deps(codes, tag),
        "useEffect(() => { if (tkMine === (" + f"{count!s}" + ")) return; "
        "const t = setTimeout(() => "
        f"document.getElementById('{CHECK_ID}')?.click(), 300); "
        "return () => clearTimeout(t); }, [tkMine, " + f"{count!s}]);": _deps(count),
    }
    hooks[ARROW_KEYS] = None
    return Var(_js_expr="tkMine", _var_type=int,
               _var_data=VarData(imports=_REACT, hooks=hooks))


def _mmss(left: NumberVar[int]) -> Var[str]:
    return Var(_js_expr=f"(`${{Math.floor({left!s} / 60)}}:${{String({left!s} % 60)"
                        ".padStart(2, '0')}`)", _var_type=str,
               _var_data=left._get_all_var_data())


TOUCH = {"min_height": "44px", "min_width": "44px"}


def countdown() -> rx.Component:
    """'Your seats are held for 0:27', amber with an Extend button near the end. One on
    screen: in the header while the cart is closed, in the cart while it is open."""
    left = _clock()
    warn = (left >= 0) & (left <= WARN_S)
    return rx.cond(
        left >= 0,
        rx.hstack(
            rx.icon("timer", size=18, aria_hidden="true"),
            rx.text(_("Your seats are held for"), " ", rx.el.strong(_mmss(left), id="hold-left"),
                    size="2"),
            rx.cond(warn, rx.text(_("Almost out of time!"), weight="bold", size="2")),
            rx.button(_("Extend"), on_click=CartState.extend, size="2", id="extend-hold",
                      variant=rx.cond(warn, "solid", "soft"), color_scheme="amber",
                      style=TOUCH),
            id="hold-countdown",
            data_warn=rx.cond(warn, "true", "false"),
            role="timer",
            aria_live=rx.cond(warn, "assertive", "off"),
            align="center", spacing="2", padding_x="10px", padding_y="6px",
            border_radius="8px", wrap="wrap",
            background=rx.cond(warn, "#fef3c7", "#eff6ff"),
            color=rx.cond(warn, "#92400e", "#1e3a8a"),
        ),
    )


def holds_watcher() -> rx.Component:
    """Always rendered: the hidden check button and the live-map watcher."""
    return rx.fragment(
        rx.el.button("check holds", id=CHECK_ID, on_click=CartState.check,  # i18n: ignore
                     tab_index=-1, aria_hidden="true", style={"display": "none"}),
        rx.el.span(id="holds-watch", data_mine=_watch().to(str), hidden=True),
    )


def cart_button() -> rx.Component:
    return rx.button(
        rx.icon("shopping-cart", size=16, aria_hidden="true"),
        _("Cart ({count})", count=CartState.count),
        on_click=CartState.toggle_open, id="cart-button", variant="outline", size="3",
        aria_expanded=rx.cond(CartState.open, "true", "false"), aria_controls="cart-drawer",
        aria_haspopup="dialog",
        style={**TOUCH, "white_space": "nowrap", "flex_shrink": "0"},
    )


def cart_item(item: ObjectVar[dict[str, Any]]) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.text(item["label"].to(str), weight="medium", size="2"),
            rx.text(item["tier"].to(str), color="gray", size="1"),
            spacing="0",
        ),
        rx.spacer(),
        rx.text(item["price"].to(str), size="2"),
        rx.cond(
            item["in_order"].to(bool),
            rx.badge(_("in checkout"), color_scheme="blue"),
            rx.icon_button(
                rx.icon("x", size=18), size="3", variant="ghost", color_scheme="red",
                on_click=CartState.remove(item["id"].to(int)),  # type: ignore[operator]
                aria_label=_("Remove {seat}", seat=item["label"].to(str)),
                class_name="cart-remove", style=TOUCH,
            ),
        ),
        align="center", width="100%", class_name="cart-item",
        data_seat=item["id"].to(str),
    )


# The drawer is a modal dialog: focus moves into it when it opens, Tab and Shift+Tab stay in
# it, Escape closes it and focus returns to the Cart button.
DRAWER_FOCUS = """useEffect(() => {
  const d = OPEN ? document.getElementById('cart-drawer') : null;
  if (!d) return;
  const focusables = () => Array.from(d.querySelectorAll(
    'button:not([disabled]), a[href], input, select, textarea, [tabindex]:not([tabindex="-1"])'))
    .filter((el) => el.offsetParent !== null);
  const first = focusables()[0];
  (first || d).focus();
  const onKey = (e) => {
    if (e.key === 'Escape') { e.preventDefault(); document.getElementById('cart-close')?.click();
      document.getElementById('cart-button')?.focus(); return; }
    if (e.key !== 'Tab') return;
    const items = focusables();
    if (!items.length) { e.preventDefault(); return; }
    const i = items.indexOf(document.activeElement);
    if (e.shiftKey && (i <= 0)) { e.preventDefault(); items[items.length - 1].focus(); }
    else if (!e.shiftKey && (i === -1 || i === items.length - 1)) {
      e.preventDefault(); items[0].focus(); }
  };
  document.addEventListener('keydown', onKey);
  return () => document.removeEventListener('keydown', onKey);
}, [OPEN]);"""


def _drawer_hooks() -> Var[str]:
    is_open = CartState.open
    hook = DRAWER_FOCUS.replace("OPEN", f"({is_open!s})")
    return Var(_js_expr="''", _var_type=str, _var_data=VarData.merge(
        VarData(imports={"react": ["useEffect"]}, hooks={hook: _deps(is_open)}),
        _deps(is_open)))


def cart_drawer() -> rx.Component:
    return rx.cond(
        CartState.open,
        rx.box(
            rx.vstack(
                rx.hstack(
                    rx.heading(_("Your cart"), size="5", id="cart-title"),
                    rx.spacer(),
                    rx.icon_button(rx.icon("x"), variant="ghost", aria_label=_("Close cart"),
                                   id="cart-close", size="3", style=TOUCH,
                                   on_click=CartState.close_drawer),
                    width="100%", align="center",
                ),
                countdown(),
                rx.cond(
                    CartState.count > 0,
                    rx.vstack(
                        rx.foreach(CartState.items, cart_item),
                        rx.divider(),
                        rx.hstack(rx.text(_("Total"), weight="bold"), rx.spacer(),
                                  rx.text(CartState.total, weight="bold", id="cart-total"),
                                  width="100%"),
                        # One control (a link that looks like a button), not a button in a
                        # link: one Tab stop, one name for a screen reader.
                        rx.el.a(
                            _("Checkout"), id="go-checkout",
                            href=routes.EVENT_PREFIX + CartState.event_id.to(str) + "/checkout",
                            style={**TOUCH, "display": "flex", "align_items": "center",
                                   "justify_content": "center", "width": "100%",
                                   "border_radius": "8px", "background": "var(--accent-9)",
                                   "color": "white", "font_weight": "500",
                                   "text_decoration": "none", "box_sizing": "border-box"},
                        ),
                        width="100%", spacing="3",
                    ),
                    rx.text(_("No seats held. Choose a free seat on the map to hold it."),
                            color="gray", id="cart-empty"),
                ),
                spacing="4", width="100%",
            ),
            id="cart-drawer", role="dialog", aria_modal="true",
            aria_labelledby="cart-title", tab_index=-1,
            data_hooks=_drawer_hooks(),
            style={"position": "fixed", "top": "0", "right": "0", "height": "100vh",
                   "width": "min(360px, 100vw)", "background": "white", "z_index": "50",
                   "box_shadow": "-8px 0 24px rgba(0,0,0,.15)", "padding": "20px",
                   "overflow_y": "auto", "box_sizing": "border-box"},
        ),
    )
