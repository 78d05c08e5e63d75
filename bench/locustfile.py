"""Scenario 2 (the original's load) for Locust, to run against a real deployment from a second
machine. Each user loops: pick an available seat (from the seat map, refreshed every
MAP_REFRESH_S by one user for all) -> hold -> think 1-3 s -> 70% order and pay / 30% release.

    EVENT_ID=42 locust -f bench/locustfile.py --host https://tickets.example.com \\
        --users 1000 --spawn-rate 33 --run-time 3m --headless --csv results/locust

Buyers identify with signed tokens from `POST /api/buyers` (works with TRUST_CALLER_ID off).
409 / 410 / 422 are business answers and count as successes; 5xx, timeouts and connection
errors are failures. The per-address rate limit (RATE_LIMIT_IP_PER_MINUTE) must allow the
load generator's address, or every user shares one bucket: see docs/bench.md.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from typing import Any, ClassVar

from locust import FastHttpUser, between, task

EVENT_ID = int(os.environ.get("EVENT_ID", "0"))
THINK_MIN_S = float(os.environ.get("THINK_MIN_S", "1"))
THINK_MAX_S = float(os.environ.get("THINK_MAX_S", "3"))
ORDER_RATIO = float(os.environ.get("ORDER_RATIO", "0.7"))
MAP_REFRESH_S = float(os.environ.get("MAP_REFRESH_S", "15"))
BUSINESS_ANSWERS = {409, 410, 422}


class SeatMap:
    """One seat map for all users of this process, like every browser showing the same map."""

    available: ClassVar[list[int]] = []
    taken: ClassVar[set[int]] = set()
    fetched_at: ClassVar[float] = 0.0


class Buyer(FastHttpUser):
    wait_time = between(0, 0)  # the think time is inside the loop, as in the original
    token = ""
    purchases = 0

    def on_start(self) -> None:
        if not EVENT_ID:
            raise RuntimeError("set EVENT_ID to an on-sale event of the deployment")
        self.new_identity()

    def new_identity(self) -> None:
        with self.client.post("/api/buyers", name="POST /api/buyers",
                              catch_response=True) as r:
            if r.status_code == 201:
                self.token = r.json()["token"]
                self.purchases = 0
            else:
                r.failure(f"no buyer token: {r.status_code}")

    def headers(self, **extra: str) -> dict[str, str]:
        return {"X-Caller-Id": self.token, **extra}

    def refresh_map(self) -> None:
        if time.monotonic() - SeatMap.fetched_at < MAP_REFRESH_S:
            return
        SeatMap.fetched_at = time.monotonic()
        with self.client.get(f"/api/events/{EVENT_ID}/seats", name="GET seats",
                             catch_response=True) as r:
            if r.status_code == 200:
                SeatMap.available = [s["id"] for s in r.json()["seats"]
                                     if s["status"] == "AVAILABLE"]
                SeatMap.taken.clear()

    def pick(self) -> int | None:
        for _ in range(20):
            if not SeatMap.available:
                return None
            seat = random.choice(SeatMap.available)
            if seat not in SeatMap.taken:
                return seat
        return None

    def call(self, method: str, path: str, name: str, **kw: Any) -> Any:
        with self.client.request(method, path, name=name, catch_response=True, **kw) as r:
            if r.status_code >= 500 or r.status_code == 0:
                r.failure(f"{r.status_code}")
            elif r.status_code in BUSINESS_ANSWERS or r.status_code < 400:
                r.success()
            else:
                r.failure(f"unexpected {r.status_code}: {r.text[:200]}")
            return r

    def think(self) -> None:
        time.sleep(random.uniform(THINK_MIN_S, THINK_MAX_S))  # gevent-patched: yields

    @task
    def buy_or_release(self) -> None:
        self.refresh_map()
        seat = self.pick()
        if seat is None:
            self.think()
            return
        r = self.call("POST", "/api/reservations", "POST /api/reservations",
                      json={"eventId": EVENT_ID, "seatId": seat, "holdSeconds": 30},
                      headers=self.headers())
        if r.status_code != 201:
            SeatMap.taken.add(seat)
            if r.status_code == 422 and "LIMIT" in r.text:
                self.new_identity()
            self.think()
            return
        SeatMap.taken.add(seat)
        self.think()
        if random.random() < ORDER_RATIO:
            r = self.call("POST", "/api/orders", "POST /api/orders",
                          json={"eventId": EVENT_ID, "seatIds": [seat]},
                          headers=self.headers(**{"Idempotency-Key": uuid.uuid4().hex}))
            if r.status_code == 201:
                self.call("POST", "/api/payments/authorize", "POST /api/payments/authorize",
                          json={"orderId": r.json()["orderId"]}, headers=self.headers())
                self.purchases += 1
                if self.purchases >= 8:  # stay under the per-buyer seat limit
                    self.new_identity()
        else:
            self.call("DELETE", f"/api/reservations/{EVENT_ID}/{seat}",
                      "DELETE /api/reservations/{e}/{s}", headers=self.headers())
