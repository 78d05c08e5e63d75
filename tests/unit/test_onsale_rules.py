"""Pure on-sale rules: admission tokens, the best-available index and tier lookup, settings."""

from __future__ import annotations

import pytest

from ticketing_app.db.models import Event, Seat
from ticketing_app.domain import errors
from ticketing_app.domain.admission import (
    Admission,
    issue_admission_token,
    verify_admission_token,
)
from ticketing_app.domain.pow import DEFAULT_BITS, MAX_BITS
from ticketing_app.domain.sale_settings import room_meta, room_mode
from ticketing_app.domain.seat_layout import Layout, SeatInfo, longest_block, tier_id_for
from ticketing_app.services.catalog import best_available_rows
from ticketing_app.services.onsale_settings import OnSaleSettings

SECRET = "unit-secret"
NOW = 1_800_000_000_000
ADM = Admission(event_id=7, position=42, expires_at_ms=NOW + 60_000, epoch="ab12cd34")


def test_admission_token_is_bound_to_buyer_event_place_epoch_and_expiry() -> None:
    token = issue_admission_token(SECRET, "alice", ADM)
    assert verify_admission_token(SECRET, "alice", 7, token, NOW) == ADM
    assert verify_admission_token(SECRET, "mallory", 7, token, NOW) is None  # replayed
    assert verify_admission_token(SECRET, "alice", 8, token, NOW) is None  # other event
    assert verify_admission_token(SECRET, "alice", 7, token, NOW + 60_000) is None  # expired
    assert verify_admission_token("other-secret", "alice", 7, token, NOW) is None
    parts = token.split(".")
    for i, forged in ((2, "41"), (3, str(NOW + 10**9)), (4, "ffffffff")):
        tampered = ".".join([*parts[:i], forged, *parts[i + 1:]])
        assert verify_admission_token(SECRET, "alice", 7, tampered, NOW) is None
    for junk in ("", "w1", "w1.7.42", "b1.alice.sig", token + ".x", "w1.7.x.1.e.sig",
                 "w1.7.\u00b2.1.e.sig"):  # a digit to str.isdigit(), not to int()
        assert verify_admission_token(SECRET, "alice", 7, junk, NOW) is None


def _seat(sid: int, r: int, c: int, tier: int | None, section: str = "Main") -> Seat:
    return Seat(id=sid, event_id=1, section=section, r=r, c=c, tier_id=tier, price=1)


def test_best_available_index_orders_rows_front_first_with_physical_centres() -> None:
    seats = [_seat(1, 2, 1, 10), _seat(2, 2, 2, 10), _seat(3, 1, 2, 11), _seat(4, 1, 3, 10),
             _seat(5, 1, 5, 10)]
    rows = best_available_rows(seats)
    assert rows["*"] == [("Main:1", 7, [(3, 2), (4, 3), (5, 5)]),
                         ("Main:2", 3, [(1, 1), (2, 2)])]
    # A tier's row keeps the centre of the whole row, not of its own seats.
    assert rows["10"] == [("Main:1", 7, [(4, 3), (5, 5)]), ("Main:2", 3, [(1, 1), (2, 2)])]
    assert rows["11"] == [("Main:1", 7, [(3, 2)])]


def _info(sid: int, r: int, c: int, tier: int, name: str) -> SeatInfo:
    return SeatInfo(id=sid, section="Main", r=r, c=c, price=1, tier_id=tier, tier_name=name,
                    tier_color="#000")


def test_tier_lookup_and_longest_block_respect_gaps() -> None:
    seats = (_info(1, 1, 1, 5, "Gold"), _info(2, 1, 2, 5, "Gold"), _info(3, 1, 4, 5, "Gold"),
             _info(4, 2, 1, 6, "Standard"), _info(5, 2, 2, 6, "Standard"),
             _info(6, 2, 3, 6, "Standard"))
    layout = Layout(event_id=1, rows=2, cols=4, currency="KRW", seats=seats)
    assert tier_id_for(layout, " gold ") == ("5", "Gold")
    assert tier_id_for(layout, "6") == ("6", "Standard")
    assert tier_id_for(layout, None) == ("*", None)
    with pytest.raises(errors.ValidationFailed):
        tier_id_for(layout, "Platinum")
    assert longest_block(layout, "5") == 2  # column 3 is an aisle
    assert longest_block(layout, "6") == 3
    assert longest_block(layout, "*") == 3


def test_room_modes_and_settings_bounds() -> None:
    ev = Event(title="t", starts_at=None, waiting_room=False, waiting_room_auto=True,  # type: ignore[arg-type]
               waiting_room_rate=30, waiting_room_auto_threshold=100, waiting_room_capacity=0)
    assert room_mode(ev) == "auto"
    assert room_meta(ev) == {"wrmode": "auto", "wrrate": 30, "wrthr": 100, "wrcap": 0,
                             "wrpow": DEFAULT_BITS}
    ev.waiting_room = True
    assert room_mode(ev) == "on"
    with pytest.raises(errors.ValidationFailed) as exc:
        OnSaleSettings(max_seats_per_buyer=0, waiting_room_rate=-1,
                       waiting_room_difficulty=MAX_BITS + 1).validate()
    assert {d["field"] for d in exc.value.details or []} == {
        "max_seats_per_buyer", "waiting_room_rate", "waiting_room_difficulty"}
    OnSaleSettings(waiting_room_difficulty=0).validate()  # 0 = the bot check off
    assert OnSaleSettings(orphan_rule=True).changes() == {"orphan_rule": True}
