"""The wiring module: builds this process's clients (database, Redis, job queue, Kafka), then
the services in dependency order, each given only what it uses. Nothing else builds a client
or a service.

Entry points (the REST API, the Reflex states, the worker, the relay, the CLI) ask for the
result, a `Runtime`, once per event loop (`get_runtime`) and call its services
(`rt.reservations.hold(...)`); services never see it, so a constructor says what a service
touches and a reader can follow a call without a running program.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from redis.asyncio import Redis

from ticketing_app.clients.job_queue import JobQueue
from ticketing_app.clients.kafka_client import KafkaClients
from ticketing_app.clients.redis_client import redis_client, require_url
from ticketing_app.db.engine import Database, create_database
from ticketing_app.holds.change_log import ChangeLog
from ticketing_app.holds.mirror import SeatMirror
from ticketing_app.holds.store import HoldStore
from ticketing_app.services.access_codes import AccessCodeService
from ticketing_app.services.admin import AdminService
from ticketing_app.services.admin_auth import AdminAuthService
from ticketing_app.services.audit import Auditor
from ticketing_app.services.best_available import BestAvailableService
from ticketing_app.services.box_office import BoxOfficeService
from ticketing_app.services.buyer_tickets import BuyerTicketService
from ticketing_app.services.cancellation import CancellationService
from ticketing_app.services.catalog import CatalogService
from ticketing_app.services.checkins import CheckinService
from ticketing_app.services.comps import CompsService
from ticketing_app.services.dashboard import DashboardService
from ticketing_app.services.onsale_settings import OnSaleSettingsService
from ticketing_app.services.order_access import OrderAccessService
from ticketing_app.services.orders import OrderService
from ticketing_app.services.payments import PaymentService
from ticketing_app.services.refunds import RefundService
from ticketing_app.services.reports import ReportService
from ticketing_app.services.reservations import ReservationService
from ticketing_app.services.scanner import FrameScanner
from ticketing_app.services.seat_feed import SeatFeed
from ticketing_app.services.settlement import PaymentSettlement
from ticketing_app.services.ticket_docs import TicketRenderer
from ticketing_app.services.waiting_room import WaitingRoomService
from ticketing_app.services.waitlist import WaitlistService
from ticketing_app.settings import Settings, get_settings


@dataclass
class Runtime:
    """What the wiring built, for the entry points. Clients first, then the services."""

    settings: Settings
    db: Database
    redis: Redis  # holds, live sync, limits, waiting room: one Redis or a Redis Cluster
    # A plain Redis (JOBS_REDIS_URL; the same client when REDIS_URL is one): ARQ's queues,
    # payment outcomes (pub/sub) and the simulated provider's ledger.
    jobs_redis: Redis
    queue: JobQueue
    kafka: KafkaClients
    holds: HoldStore
    catalog: CatalogService
    # This process's copy of the seat maps it serves; fed only where something runs it (the
    # web and API processes' background tasks), elsewhere it stays empty and unused.
    mirror: SeatMirror
    # Live seat changes for the clients of the seat stream (SSE), fed by the mirror.
    seat_feed: SeatFeed
    waiting: WaitingRoomService
    reservations: ReservationService
    best_available: BestAvailableService
    orders: OrderService
    payments: PaymentService
    admin: AdminService
    onsale: OnSaleSettingsService
    admin_auth: AdminAuthService
    checkins: CheckinService
    # QR codes read from the check-in page's camera frames, off the event loop.
    scanner: FrameScanner
    buyer_tickets: BuyerTicketService
    cancellation: CancellationService
    dashboard: DashboardService
    ticket_docs: TicketRenderer
    auditor: Auditor
    box_office: BoxOfficeService
    reports: ReportService
    # Signed order links, "find my order", buyers' personal data and its retention.
    order_access: OrderAccessService
    comps: CompsService
    access_codes: AccessCodeService
    waitlist: WaitlistService

    async def close(self) -> None:
        self.ticket_docs.close()
        self.scanner.close()
        await self.payments.close()
        await self.queue.close()
        await self.redis.aclose()
        if self.jobs_redis is not self.redis:
            await self.jobs_redis.aclose()
        await self.db.dispose()


def build_runtime(settings: Settings, db: Database, redis: Redis,
                  jobs_redis: Redis | None = None) -> Runtime:
    """The services in dependency order, each with its collaborators. Connects nothing: the
    clients connect on first use. `jobs_redis` defaults to `redis` (one plain Redis)."""
    jobs_redis = jobs_redis or redis
    queue = JobQueue(settings)
    holds = HoldStore(redis)
    catalog = CatalogService(db, holds, settings)
    holds.loader = catalog.load_event_state  # an event Redis lost is rebuilt from the database
    holds.repairer = catalog.repair_event_state  # and checked again after a failover's rebuild
    mirror = SeatMirror(redis, catalog.snapshot)
    waiting = WaitingRoomService(redis, holds, catalog, settings)
    access_codes = AccessCodeService(db, holds, catalog)
    reservations = ReservationService(holds, catalog, waiting, mirror, settings, access_codes)
    orders = OrderService(db, holds, catalog, PaymentSettlement(db, holds, settings),
                          RefundService(db, holds), settings)
    admin = AdminService(db, holds, catalog, orders, settings)
    buyer_tickets = BuyerTicketService(db)
    return Runtime(
        settings=settings, db=db, redis=redis, jobs_redis=jobs_redis, queue=queue,
        kafka=KafkaClients(settings),
        holds=holds, catalog=catalog, mirror=mirror, waiting=waiting,
        seat_feed=SeatFeed(mirror, catalog, ChangeLog(redis), settings.sse_client_queue,
                           settings.sse_max_clients, settings.sse_heartbeat_s),
        reservations=reservations,
        best_available=BestAvailableService(holds, catalog, reservations, waiting),
        orders=orders,
        payments=PaymentService(db, jobs_redis, queue, settings),
        admin=admin,
        onsale=OnSaleSettingsService(db, redis, catalog),
        admin_auth=AdminAuthService(db, redis, settings),
        checkins=CheckinService(db, settings),
        scanner=FrameScanner(settings.scan_decode_threads),
        buyer_tickets=buyer_tickets,
        cancellation=CancellationService(db, holds, catalog, orders, queue, settings),
        dashboard=DashboardService(db, holds, catalog),
        ticket_docs=TicketRenderer(settings.ticket_render_threads,
                                   settings.ticket_render_cache),
        auditor=Auditor(db, holds),
        box_office=BoxOfficeService(db),
        reports=ReportService(db),
        order_access=OrderAccessService(db, redis, catalog, buyer_tickets, settings),
        comps=CompsService(db, holds, catalog, orders, settings),
        access_codes=access_codes,
        waitlist=WaitlistService(db, holds, catalog, settings),
    )


async def create_runtime(settings: Settings | None = None) -> Runtime:
    settings = settings or get_settings()
    db = create_database(settings.effective_database_url, settings.db_pool_size, settings)
    redis = redis_client(require_url(settings.redis_url, "REDIS_URL"),
                         settings.redis_max_connections, settings, settings.redis_is_cluster)
    jobs_redis = None
    if settings.redis_is_cluster or settings.effective_jobs_redis_url != settings.redis_url:
        jobs_redis = redis_client(
            require_url(settings.effective_jobs_redis_url, "JOBS_REDIS_URL"),
            settings.redis_max_connections, settings, cluster=False)
    return build_runtime(settings, db, redis, jobs_redis)


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
