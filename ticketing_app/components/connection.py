"""What a buyer sees when the connection drops, instead of Reflex's developer toast ("Cannot
connect to server: ... ws://..."): a plain notice in their language, shown while the
websocket is down or the browser says it is offline, gone when it is back.

`#connection-state[data-offline]` also tells the seat map not to send clicks meanwhile
(components/seat_map.py): Reflex would queue them and send them on reconnect, and a seat
chosen minutes ago would be held without the buyer expecting it (the server drops a click that
arrives late as well: state/seat_map.py).
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import Var, VarData
from reflex_components_core.core.banner import has_connection_errors

from ticketing_app.components.i18n import _

# navigator.onLine, kept in React state (the 'online'/'offline' events).
_ONLINE_HOOK = (
    "const [tkOnline, setTkOnline] = useState(() => typeof navigator === 'undefined' || "
    "navigator.onLine !== false);"
)
_ONLINE_EFFECT = (
    "useEffect(() => { const up = () => setTkOnline(true), down = () => setTkOnline(false); "
    "window.addEventListener('online', up); window.addEventListener('offline', down); "
    "return () => { window.removeEventListener('online', up); "
    "window.removeEventListener('offline', down); }; }, []);"
)


def _offline() -> Var[bool]:
    online: Var[Any] = Var(_js_expr="tkOnline", _var_type=bool, _var_data=VarData(
        imports={"react": ["useState", "useEffect"]},
        hooks={_ONLINE_HOOK: None, _ONLINE_EFFECT: None}))
    return Var(_js_expr=f"(!({online!s}) || {has_connection_errors!s})", _var_type=bool,
               _var_data=VarData.merge(online._get_all_var_data(),
                                       has_connection_errors._get_all_var_data())).to(bool)


def connection_notice() -> rx.Component:
    """The app's overlay (its app wrap: the app is added after it, as a sibling): always
    mounted, visible only while offline."""
    offline = _offline()
    return rx.fragment(rx.box(
        rx.cond(
            offline,
            rx.hstack(
                rx.icon("wifi-off", size=18, aria_hidden="true"),
                rx.text(_("Connection lost. Reconnecting… Seats you choose now are not held; "
                          "choose again once the map is back."), size="2"),
                align="center", spacing="2",
                style={"position": "fixed", "left": "0", "right": "0", "bottom": "0",
                       "z_index": "100", "background": "#7f1d1d", "color": "white",
                       "padding": "12px 16px", "justify_content": "center"},
            ),
        ),
        id="connection-state",
        data_offline=rx.cond(offline, "true", "false"),
        role="status",
        aria_live="assertive",
    ))
