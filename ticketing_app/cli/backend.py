"""The backend processes: the ARQ workers, the outbox relay and the Kafka consumers, each with
its health and metrics endpoint (OPS_PORT); SIGTERM drains each before it exits."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

import typer

from ticketing_app.cli.common import flush, run_until_signal, setup, wait_either
from ticketing_app.settings import get_settings


def worker(
    payments: Annotated[bool, typer.Option(help="Run the payments worker")] = True,
    jobs: Annotated[bool, typer.Option(help="Run the general jobs worker")] = True,
) -> None:
    """ARQ workers: payments (short timeouts) and general jobs (expiry, cancellations).
    SIGTERM drains running jobs (SHUTDOWN_GRACE_S) before exiting."""
    setup("worker")

    async def main(stop: asyncio.Event) -> None:
        from backend_jobs.ops_server import ops_endpoint
        from backend_jobs.worker import report_queue_depth, run_workers
        from ticketing_app.bootstrap import create_runtime
        from ticketing_app.services.health import db_probe, redis_probe

        settings = get_settings()
        rt = await create_runtime()  # for probes and gauges; connects lazily
        depth = asyncio.create_task(report_queue_depth(rt, stop))
        try:
            async with ops_endpoint([redis_probe(rt.redis), db_probe(rt.db)], settings.ops_port,
                                    settings.ops_host):
                await run_workers(payments=payments, jobs=jobs, stop=stop)
        finally:
            stop.set()
            await depth
            await rt.close()
            flush()

    run_until_signal(main)

def relay() -> None:
    """The transactional outbox relay to Kafka. Ready when Kafka answers."""
    setup("relay")

    async def main(stop: asyncio.Event) -> None:
        from backend_jobs.ops_server import ops_endpoint
        from backend_jobs.relay import OutboxRelay, report_backlog
        from ticketing_app.bootstrap import create_runtime
        from ticketing_app.services.health import KafkaProbe, db_probe

        settings = get_settings()
        rt = await create_runtime()
        kafka = KafkaProbe(settings)
        r = OutboxRelay(rt)
        task = asyncio.create_task(r.run())
        backlog = asyncio.create_task(report_backlog(r, stop))
        try:
            async with ops_endpoint([kafka.probe(), db_probe(rt.db, required=False)],
                                    settings.ops_port, settings.ops_host):
                await wait_either(stop, task)
        finally:
            stop.set()
            r.stop()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, 10)
            await backlog
            await kafka.close()
            await rt.close()
            flush()

    run_until_signal(main)

def consumers() -> None:
    """Kafka consumers: the sales projection and notifications. Ready when Kafka answers."""
    setup("consumers")

    async def main(stop: asyncio.Event) -> None:
        from backend_jobs.consumers import run_consumers
        from backend_jobs.mailer import mail_loop
        from backend_jobs.ops_server import ops_endpoint
        from ticketing_app.bootstrap import create_runtime
        from ticketing_app.services.health import KafkaProbe, db_probe

        settings = get_settings()
        rt = await create_runtime()
        kafka = KafkaProbe(settings)
        mailer = asyncio.create_task(mail_loop(rt, stop), name="mailer")  # SMTP_URL delivery
        try:
            async with ops_endpoint([kafka.probe(), db_probe(rt.db, required=False)],
                                    settings.ops_port, settings.ops_host):
                await run_consumers(rt, stop=stop)
        finally:
            mailer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await mailer
            await kafka.close()
            await rt.close()
            flush()

    run_until_signal(main)
