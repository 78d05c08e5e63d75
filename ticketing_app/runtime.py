"""The process-wide set of clients and services, built once per event loop.

Entry points (the REST API, the Reflex states, the worker, the relay, the CLI) ask for the
runtime instead of creating clients at import time.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.asyncio import BlockingConnectionPool, Redis

from ticketing_app.db.engine import Database, create_database
from ticketing_app.holds.change_log import ChangeLog
from ticketing_app.holds.mirror import SeatMirror
from ticketing_app.holds.store import HoldStore
from ticketing_app.settings import Settings, get_settings

if TYPE_CHECKING:
    from arq.connections import ArqRedis

    from ticketing_app.services.admin import AdminService
    from ticketing_app.services.admin_auth import AdminAuthService
    from ticketing_app.services.buyer_tickets import BuyerTicketService
    from ticketing_app.services.cancellation import CancellationService
    from ticketing_app.services.catalog import CatalogService
    from ticketing_app.services.checkins import CheckinService
    from ticketing_app.services.dashboard import DashboardService
    from ticketing_app.services.orders import OrderService
    from ticketing_app.services.payments import PaymentService
    from ticketing_app.services.reservations import ReservationService
    from ticketing_app.services.seat_feed import SeatFeed
    from ticketing_app.services.ticket_docs import TicketRenderer
    from ticketing_app.services.waiting_room import WaitingRoomService


def tcp_keepalive_options(settings: Settings) -> dict[int, int]:
    """Socket options for TCP keepalive probes (where the platform names them)."""
    names = {"TCP_KEEPIDLE": settings.tcp_keepalive_idle_s,
             "TCP_KEEPINTVL": settings.tcp_keepalive_interval_s,
             "TCP_KEEPCNT": settings.tcp_keepalive_count}
    return {getattr(socket, n): v for n, v in names.items() if hasattr(socket, n)}


def redis_connection_options(settings: Settings) -> dict[str, Any]:
    """Bounds on a silent Redis for every connection: the connect, each command's answer; TCP
    keepalive on idle sockets; a PING before reusing a connection that sat idle."""
    return {
        "socket_connect_timeout": settings.redis_connect_timeout_s,
        "socket_timeout": settings.redis_socket_timeout_s,
        "socket_keepalive": True,
        "socket_keepalive_options": tcp_keepalive_options(settings),
        "health_check_interval": settings.redis_health_check_interval_s,
    }


def redis_client(url: str, max_connections: int, settings: Settings | None = None) -> Redis:
    """A blocking pool: waits for a free connection instead of failing under a burst (up to
    REDIS_POOL_TIMEOUT_S). No retries: a command that failed is the request's 503, within
    REDIS_SOCKET_TIMEOUT_S of a silent Redis."""
    settings = settings or get_settings()
    pool = BlockingConnectionPool.from_url(url, max_connections=max_connections,
                                           timeout=settings.redis_pool_timeout_s,
                                           **redis_connection_options(settings))
    return Redis(connection_pool=pool)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    redis: Redis
    holds: HoldStore
    catalog: CatalogService = field(init=False)
    # This process's copy of the seat maps it serves; fed only where something runs it (the
    # web and API processes' background tasks), elsewhere it stays empty and unused.
    mirror: SeatMirror = field(init=False)
    # Live seat changes for the clients of the seat stream (SSE), fed by the mirror.
    seat_feed: SeatFeed = field(init=False)
    reservations: ReservationService = field(init=False)
    orders: OrderService = field(init=False)
    payments: PaymentService = field(init=False)
    admin: AdminService = field(init=False)
    admin_auth: AdminAuthService = field(init=False)
    checkins: CheckinService = field(init=False)
    buyer_tickets: BuyerTicketService = field(init=False)
    cancellation: CancellationService = field(init=False)
    dashboard: DashboardService = field(init=False)
    ticket_docs: TicketRenderer = field(init=False)
    waiting: WaitingRoomService = field(init=False)
    _arq: ArqRedis | None = None

    def __post_init__(self) -> None:
        from ticketing_app.services.admin import AdminService
        from ticketing_app.services.catalog import CatalogService
        from ticketing_app.services.orders import OrderService
        from ticketing_app.services.payments import PaymentService
        from ticketing_app.services.reservations import ReservationService
        from ticketing_app.services.seat_feed import SeatFeed
        from ticketing_app.services.waiting_room import WaitingRoomService

        self.catalog = CatalogService(self)
        self.holds.loader = self.catalog.load_event_state
        self.mirror = SeatMirror(self.redis, self.catalog.snapshot)
        s = self.settings
        self.seat_feed = SeatFeed(self.mirror, self.catalog, ChangeLog(self.redis),
                                  s.sse_client_queue, s.sse_max_clients, s.sse_heartbeat_s)
        self.reservations = ReservationService(self)
        self.orders = OrderService(self)
        self.payments = PaymentService(self)
        self.admin = AdminService(self)
        self.waiting = WaitingRoomService(self)
        self._after_sale_services()

    def _after_sale_services(self) -> None:
        """Admin sign-in, check-in, buyers' tickets, cancellations, the dashboard."""
        from ticketing_app.services.admin_auth import AdminAuthService
        from ticketing_app.services.buyer_tickets import BuyerTicketService
        from ticketing_app.services.cancellation import CancellationService
        from ticketing_app.services.checkins import CheckinService
        from ticketing_app.services.dashboard import DashboardService
        from ticketing_app.services.ticket_docs import TicketRenderer

        self.admin_auth = AdminAuthService(self)
        self.checkins = CheckinService(self)
        self.buyer_tickets = BuyerTicketService(self)
        self.cancellation = CancellationService(self)
        self.dashboard = DashboardService(self)
        self.ticket_docs = TicketRenderer(self.settings.ticket_render_threads,
                                          self.settings.ticket_render_cache)

    async def arq(self) -> ArqRedis:
        if self._arq is None:
            from backend_jobs.queues import create_arq_pool

            self._arq = await create_arq_pool(self.settings)
        return self._arq

    async def close(self) -> None:
        self.ticket_docs.close()
        await self.payments.close()
        if self._arq is not None:
            await self._arq.aclose()
        await self.redis.aclose()
        await self.db.dispose()


def require_url(value: str, name: str) -> str:
    if not value:
        raise RuntimeError(
            f"{name} is not set. `ticketing up` starts embedded services and sets it; "
            f"standalone processes need it in the environment."
        )
    return value


async def create_runtime(settings: Settings | None = None) -> Runtime:
    settings = settings or get_settings()
    db = create_database(settings.effective_database_url, settings.db_pool_size, settings)
    redis = redis_client(require_url(settings.redis_url, "REDIS_URL"),
                         settings.redis_max_connections, settings)
    return Runtime(settings=settings, db=db, redis=redis, holds=HoldStore(redis))


_runtimes: dict[int, asyncio.Task[Runtime]] = {}


async def get_runtime() -> Runtime:
    """One runtime per event loop (Reflex and the API share the backend's loop)."""
    loop_id = id(asyncio.get_running_loop())
    task = _runtimes.get(loop_id)
    if task is None or (task.done() and task.exception() is not None):
        task = asyncio.ensure_future(create_runtime())
        _runtimes[loop_id] = task
    return await asyncio.shield(task)


def set_runtime(rt: Runtime) -> None:
    """Install an already-built runtime for the current loop (tests, the worker)."""
    fut: asyncio.Future[Runtime] = asyncio.get_running_loop().create_future()
    fut.set_result(rt)
    _runtimes[id(asyncio.get_running_loop())] = fut  # type: ignore[assignment]


async def close_runtime() -> None:
    task = _runtimes.pop(id(asyncio.get_running_loop()), None)
    if task is not None and task.done() and task.exception() is None:
        await task.result().close()
