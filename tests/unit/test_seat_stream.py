"""The seat stream's pure parts: Last-Event-ID positions, the wire ids of a version that changed
several seats, a client's mailbox (order, no repeats, resuming inside a version, its bound),
and the change log's rule that a replay is all of the missed versions or nothing."""

from __future__ import annotations

import asyncio

from ticketing_app.api.seat_stream import encode, match
from ticketing_app.holds.change_log import contiguous
from ticketing_app.services.seat_feed import (
    BEAT_ITEM,
    INIT,
    UPDATE,
    Item,
    Subscription,
    parse_position,
)


def test_positions_are_versions_or_versions_with_a_seat_count() -> None:
    assert parse_position("1733740000012") == (1733740000012, 0)
    assert parse_position("17:2") == (17, 2)
    for bad in (None, "", "abc", "-3", "17:x", "1" * 19, "17:2:3"):
        assert parse_position(bad) is None, bad


def test_a_version_of_three_seats_carries_its_full_id_on_the_last() -> None:
    item = Item(UPDATE, 42, ((7, "HELD"), (8, "HELD"), (9, "HELD")))
    wire = encode(item).decode()
    ids = [line[4:] for line in wire.splitlines() if line.startswith("id: ")]
    assert ids == ["42:1", "42:2", "42"]
    assert wire.count("event: SEAT_UPDATE\n") == 3
    assert '{"seatId":9,"status":"HELD","version":42}' in wire
    rest = Item(UPDATE, 42, ((9, "HELD"),), offset=2)  # resumed after two of them
    assert [x[4:] for x in encode(rest).decode().splitlines() if x.startswith("id: ")] == ["42"]


def test_the_route_takes_valid_ids_only() -> None:
    assert match("GET", "/api/events/7/seats/stream") == 7
    assert match("POST", "/api/events/7/seats/stream") is None
    assert match("GET", "/api/events/0/seats/stream") is None  # FastAPI's 422
    assert match("GET", "/api/events/99999999999/seats/stream") is None
    assert match("GET", "/api/events/7/seats") is None


async def test_a_client_gets_each_version_once_in_order() -> None:
    sub = Subscription(1, limit=10)
    init = Item(INIT, 5, body={})
    for item in (init, Item(UPDATE, 5, ((1, "HELD"),)), Item(UPDATE, 6, ((1, "SOLD"),)),
                 BEAT_ITEM, Item(UPDATE, 6, ((1, "SOLD"),)), Item(UPDATE, 7, ((2, "HELD"),))):
        assert sub.offer(item)
    got = await sub.take()
    assert [(i.kind, i.version) for i in got] == [(INIT, 5), (UPDATE, 6), ("BEAT", -1),
                                                  (UPDATE, 7)]
    sub.close("gone")
    assert await sub.take() == []


async def test_a_client_resumes_inside_a_version() -> None:
    sub = Subscription(1, limit=10)
    sub.last, sub.skip = 8, (9, 2)
    sub.offer(Item(UPDATE, 9, ((1, "HELD"), (2, "HELD"), (3, "HELD"))))
    (item,) = await sub.take()
    assert item.seats == ((3, "HELD"),) and item.offset == 2


async def test_a_full_mailbox_refuses_more() -> None:
    sub = Subscription(1, limit=2)
    assert sub.offer(Item(UPDATE, 1, ((1, "HELD"),)))
    assert sub.offer(Item(UPDATE, 2, ((1, "SOLD"),)))
    assert not sub.offer(Item(UPDATE, 3, ((2, "HELD"),)))
    assert len(await asyncio.wait_for(sub.take(), 1)) == 2


def test_a_replay_is_every_missed_version_or_nothing() -> None:
    def entry(v: int, field: bytes = b"c") -> tuple[bytes, dict[bytes, bytes]]:
        return f"{v}-0".encode(), {field: b'[["12","H","t",5]]' if field == b"c" else b"1"}

    assert contiguous([entry(11), entry(12)], 10, 12) == \
        [(11, [(12, "H", "t", 5)]), (12, [(12, "H", "t", 5)])]
    assert contiguous([entry(12)], 10, 12) is None  # 11 was trimmed
    assert contiguous([entry(11)], 10, 12) is None  # 12 not there (lost)
    assert contiguous([entry(11), entry(12, b"r")], 10, 12) is None  # rebuilt at 12
    assert contiguous([], 10, 10) == []
