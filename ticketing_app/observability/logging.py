"""Structured logs (structlog): JSON lines with the trace id in production (LOG_JSON=true),
readable in a terminal otherwise.

Standard-library records (uvicorn, arq, aiokafka, SQLAlchemy, our own `logging` users) go
through the same processors and renderer, so every line of a process has one format and
carries `trace_id` when it was written inside a span.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from ticketing_app.observability.tracing import current_trace_id
from ticketing_app.settings import get_settings

# Libraries whose own handlers would bypass ours: their records propagate to the root.
ROUTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "arq", "arq.worker",
                  "arq.jobs", "aiokafka", "sqlalchemy", "alembic", "httpx")
# Chatty at INFO for little operational value.
QUIET_LOGGERS = {"aiokafka": logging.WARNING, "httpx": logging.WARNING,
                 "sqlalchemy": logging.WARNING, "alembic": logging.INFO}


def _add_trace_id(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    trace_id = current_trace_id()
    if trace_id:
        event_dict.setdefault("trace_id", trace_id)
    return event_dict


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_id,
    ]


def configure_logging(stream: Any = None, json_lines: bool | None = None) -> None:
    """Idempotent; `stream` (default stderr) is where every line goes; `json_lines` overrides
    LOG_JSON."""
    settings = get_settings()
    level = getattr(logging, settings.log_level.upper(), logging.INFO)
    as_json = settings.log_json if json_lines is None else json_lines
    renderer: Any = (structlog.processors.JSONRenderer() if as_json
                     else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.stdlib.BoundLogger,
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared_processors(), structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ROUTED_LOGGERS:
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    for name, quiet in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(level, quiet))
