"""One settings object for every process, read from the environment (and `.env`).

Empty service URLs mean "start the embedded one" (Valkey, the Tansu broker, SQLite), so a
fresh clone runs with no configuration; production sets real URLs.
"""

from __future__ import annotations

import logging
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_SECRET = "dev-insecure-secret-change-me"
MIN_SECRET_LENGTH = 32  # production: e.g. `openssl rand -hex 32`
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Pages: nothing may frame them, no plugins, no <base> or form posts to other sites. Scripts and
# styles are left alone (Reflex's compiled app uses inline styles and hydration scripts).
DEFAULT_PAGE_CSP = "frame-ancestors 'none'; base-uri 'self'; object-src 'none'; form-action 'self'"
log = logging.getLogger(__name__)

# The steps where FAULT_INJECT may pause a process (ticketing_app/faults.py says what each
# is). Named here, with the setting that names them, so the settings can refuse a typo.
FAULT_POINTS = frozenset({"order.after_lock", "order.after_commit", "relay.after_ack",
                          "payment.after_compensation_commit"})


class Settings(BaseSettings):
    """Every environment variable the platform reads; the README documents each."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    # --- deployment ---
    app_env: Literal["development", "test", "production"] = "development"
    secret_key: str = DEV_SECRET
    data_dir: Path = PROJECT_ROOT / ".data"
    log_level: str = "INFO"
    log_json: bool = False
    # --- operations (health, metrics, shutdown) ---
    # Port of the health+metrics endpoint of the worker, relay and consumer processes
    # (/metrics, /actuator/health[/liveness|/readiness]); 0 = none. The web/API process
    # serves the same paths on its own port.
    ops_port: int = 0
    ops_host: str = "0.0.0.0"
    # How often background gauges (outbox backlog/lag, queue depth) are refreshed.
    metrics_interval_s: float = 1.0
    # The scheduled audit (an ARQ cron job of the jobs worker; its result is exported as
    # metrics for the alert rules): every this many seconds, 0 = off. It must divide a
    # minute, an hour or a day (10, 30, 60, 300, 900, 3600, ...): ticks stay evenly apart.
    audit_interval_s: int = Field(default=300, ge=0)
    # On SIGTERM: how long workers wait for running jobs and servers for open requests.
    shutdown_grace_s: float = 20.0
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (the load balancer):
    # comma-separated addresses or networks, "*" for any. Per-address rate limits need it.
    forwarded_allow_ips: str = "127.0.0.1"

    # --- services (empty = embedded) ---
    database_url: str = ""
    # One Redis, or a Redis Cluster: several comma-separated seed nodes
    # (redis://h1:7000,redis://h2:7001), or one seed with REDIS_CLUSTER=true. Holds, live sync,
    # rate limits, the waiting room and the sweeper run on it (docs/operations.md, "Redis").
    redis_url: str = ""
    redis_cluster: bool = False
    # A plain Redis for ARQ's queues, payment outcomes and Reflex session state (neither ARQ
    # nor Reflex's state manager speaks Cluster). Empty = REDIS_URL when that is not a cluster.
    jobs_redis_url: str = ""
    # A cluster command that met a refused connection or CLUSTERDOWN (a failover under way)
    # is tried again this many times on a refreshed slot map; a timeout never is.
    redis_cluster_retries: int = Field(default=2, ge=0)
    kafka_bootstrap: str = ""
    kafka_topic: str = "order.events"
    kafka_topic_partitions: int = 3
    kafka_idempotent_producer: bool = False
    db_pool_size: int = 20
    redis_max_connections: int = 200
    # --- how long a silent dependency is waited for (docs/reliability.md, "Timeouts") ---
    # A peer that stops answering without closing the connection (a black-holed network)
    # must cost a request a bounded wait and a 503, never a hang. PostgreSQL (asyncpg):
    db_connect_timeout_s: float = Field(default=5.0, gt=0)  # connect and log in
    db_command_timeout_s: float = Field(default=6.0, gt=0)  # client side, every statement
    # Server side: the server ends a statement running this long (before the client gives
    # up, so a slow statement ends with a clean error on a connection that stays usable).
    db_statement_timeout_s: float = Field(default=5.0, ge=0)  # 0 = none
    # Server side: a session idle inside a transaction this long is ended, and its row locks
    # with it (a client that vanished behind a dead network keeps none for ever). Above the
    # longest legitimate pause inside a transaction: the relay's broker round trip (10 s).
    db_idle_in_transaction_timeout_s: float = Field(default=30.0, ge=0)  # 0 = none
    db_pool_timeout_s: float = Field(default=10.0, gt=0)  # waiting for a pooled connection
    # A pooled connection idle longer than this is pinged before use (0: before every use).
    # One used moments ago answered then; a ping per checkout cost a round trip per
    # transaction (scenario 7). A connection that died in use is invalidated by its error.
    db_ping_after_idle_s: float = Field(default=2.0, ge=0)
    # Redis (redis-py; the ARQ pools too):
    redis_connect_timeout_s: float = Field(default=2.0, gt=0)
    redis_socket_timeout_s: float = Field(default=3.0, gt=0)  # every command's answer
    redis_pool_timeout_s: float = Field(default=10.0, gt=0)  # waiting for a pooled connection
    # A pooled connection idle this long is PINGed before use; a pub/sub listener quiet this
    # long PINGs, and reconnects if no answer comes within REDIS_SOCKET_TIMEOUT_S.
    redis_health_check_interval_s: float = Field(default=10.0, gt=0)
    # TCP keepalive on Redis sockets, the relay's LISTEN connection and (asked of the server)
    # PostgreSQL sessions: a dead peer of an idle connection is found after about
    # IDLE + INTERVAL x COUNT seconds, where the network really drops packets.
    tcp_keepalive_idle_s: int = Field(default=10, ge=1)
    tcp_keepalive_interval_s: int = Field(default=5, ge=1)
    tcp_keepalive_count: int = Field(default=3, ge=1)

    # --- identity ---
    trust_caller_id: bool = True
    buyer_cookie_name: str = "tk_buyer"
    admin_session_ttl_s: int = 8 * 3600
    admin_bootstrap_user: str = ""
    admin_bootstrap_password: str = ""
    admin_cookie_name: str = "tk_admin"  # the signed HttpOnly admin session cookie
    admin_login_attempts_per_minute: int = 10  # failed logins per client address and username
    argon2_profile: str = "RFC_9106_LOW_MEMORY"  # argon2.profiles name; tests use CHEAPEST

    # --- holds ---
    hold_default_s: int = 30
    hold_min_s: int = 5
    hold_max_s: int = 120
    hold_max_total_s: int = 600
    # The web app's holds (a person reading prices and typing card details): how long one
    # lasts and the most it may be extended to in all, at most 30 minutes; new events take
    # these, the admin sets them per event. The REST API keeps the bounds above (the
    # original's clamp, 5-120 s) for the original's clients.
    web_hold_s: int = Field(default=600, ge=1, le=1800)
    web_hold_max_total_s: int = Field(default=1800, ge=1, le=1800)
    max_seats_per_buyer: int = 10
    hold_sweep_interval_ms: int = 200
    # A waitlist offer: a freed seat held for the next in line this long (their mailed link).
    waitlist_offer_s: int = 900
    # The web app drops a seat click older than this when it arrives (queued while the
    # connection was down, sent on reconnect): it is never held later. 0 = keep every click.
    click_max_age_s: float = 10.0

    # --- waiting room (per-event switches, rate and capacity live on the event) ---
    waiting_room_token_ttl_s: int = 600  # an admission lasts this long after it is granted
    waiting_room_auto_cooldown_s: int = 60  # automatic room stays on this long after a surge
    waiting_room_tick_ms: int = 200  # how often each web/worker process advances the queues
    # A bot-check challenge (domain/pow.py) must be solved and redeemed within this long.
    waiting_room_challenge_ttl_s: int = 120

    # --- orders and payments ---
    order_payment_window_s: int = 120
    idempotency_lease_s: int = 30
    payment_sync_wait_s: float = 10.0
    payment_async: bool = False
    payment_success_rate: float = 0.8
    payment_latency_min_ms: int = 50
    payment_latency_max_ms: int = 800
    payment_force_outcome: Literal["", "success", "fail", "hang"] = ""
    payment_provider_timeout_s: float = 5.0
    payment_job_timeout_s: int = 10
    payment_job_max_tries: int = 5

    # --- outbox and consumers ---
    outbox_poll_interval_ms: int = 200
    outbox_batch_size: int = 200
    # After a NOTIFY the relay waits this long before claiming, so commits arriving together
    # go out as one batch (fewer round trips per row under load; adds at most this to lag).
    outbox_linger_ms: int = Field(default=20, ge=0, le=1000)

    # --- web / live sync ---
    public_url: str = "http://localhost:3000"
    web_state_redis: bool = False
    # Server processes of `ticketing web` / `ticketing up` (0 = one per core). More than one
    # keeps Reflex session state in Redis (each process serves its own websockets).
    web_workers: int = Field(default=0, ge=0, le=64)
    # Address `ticketing web` listens on (0.0.0.0 in a container; one loopback address to run
    # several web processes on one port, as the scale-out test does).
    web_host: str = "0.0.0.0"
    web_port: int = 3000
    api_port: int = 8000
    # ASGI server for `ticketing api`: uvicorn (httptools+uvloop; serves in the process itself)
    # or granian (Rust HTTP stack, serves from a worker process; measured cheaper per request,
    # see docs/bench.md).
    api_server: Literal["granian", "uvicorn"] = "uvicorn"
    live_sync_flush_ms: int = 50
    # The seat-change stream (SSE, GET /api/events/{id}/seats/stream): a comment line this
    # often keeps proxies from closing an idle stream; the reconnect delay sent as `retry:`;
    # changes one client may have waiting before it counts as not reading and is dropped;
    # streams one process serves at once (past it 503 with Retry-After).
    sse_heartbeat_s: float = Field(default=15.0, gt=0)
    sse_retry_ms: int = Field(default=3000, ge=0)
    sse_client_queue: int = Field(default=256, ge=1)
    sse_max_clients: int = Field(default=10_000, ge=1)

    # --- abuse limits and browser security (docs/security.md) ---
    # Other sites whose pages may call the API (CORS) and open the live-sync websocket; the
    # site at PUBLIC_URL always may. Never a wildcard.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Hold attempts that reach Redis, per event and minute: per buyer, and per client address.
    # The address limit must not lock out a carrier NAT (thousands of phones behind one
    # address at an on-sale): it stops a single host, per-buyer limits stop the rest.
    rate_limit_holds_per_minute: int = 600
    rate_limit_ip_per_minute: int = 20000
    rate_limit_buyers_per_minute: int = 600  # POST /api/buyers per client address
    max_request_bytes: int = 64 * 1024
    # Requests one process lets into the API's other routes at once (orders, payments, reads):
    # past it, 503 with Retry-After at once instead of a queue behind a slow database.
    api_max_inflight: int = Field(default=256, ge=1)
    content_security_policy: str = DEFAULT_PAGE_CSP  # of pages ('' = none); the API's is fixed
    hsts_max_age_s: int = 31_536_000  # Strict-Transport-Security on https requests; 0 = off

    # --- after the sale: tickets, mail, cancellation, dashboard ---
    smtp_url: str = ""  # smtp://user:pass@host:port (smtps:// = TLS, ?starttls=1); empty = log
    mail_from: str = "tickets@localhost"  # the From of confirmation and refund mails
    # `ticketing up` without SMTP_URL starts a development mail sink (aiosmtpd) and shows its
    # last mails at /api/dev/mail; the web app serves that page only when this names the sink's
    # directory (set by `up`, never in production).
    dev_mail_dir: str = ""
    # The link in a confirmation mail opens the order's tickets on any device for this long
    # (signed; also the link "find my order" mails).
    order_link_ttl_days: int = Field(default=30, ge=1, le=3650)
    # "Find my order": look-ups per client address per hour (each answer is the same
    # whether or not the e-mail is known; a match mails the link).
    order_lookup_per_hour: int = Field(default=10, ge=0)  # 0 = no limit
    # Buyers' names and e-mail addresses are erased this many days after their event
    # (a worker job, daily); 0 = kept.
    personal_data_retention_days: int = Field(default=90, ge=0)
    cancel_refunds_per_second: float = 0.0  # pace of cancellation refunds; 0 = as fast as possible
    cancel_job_stale_s: int = 10  # a cancellation job without progress this long is resumed
    dashboard_refresh_ms: int = 1000  # the admin dashboard's refresh period while it is open
    # Ticket PDFs and QR images render in this many threads of their own, never on the event
    # loop (at most this many at once; more wait their turn).
    ticket_render_threads: int = Field(default=2, ge=1, le=32)
    # Recent renders kept in memory: this many PDFs (per order and its tickets' state) and
    # four times as many QR images; 0 = none.
    ticket_render_cache: int = Field(default=64, ge=0)
    # A .ttf/.otf font with Hangul and the won sign for ticket PDFs; empty = the machine's
    # Korean font (fontconfig), else a known Debian path (services/ticket_docs.py).
    ticket_font: str = ""
    # Camera frames from check-in pages without BarcodeDetector are read (QR codes, zxing-cpp)
    # in this many threads of their own, never on the event loop (services/scanner.py).
    scan_decode_threads: int = Field(default=2, ge=1, le=16)

    # --- languages and time (docs/i18n.md) ---
    # The language of a reader whose browser asks for none we have (ko or en), and of mail
    # for orders placed without one.
    default_locale: Literal["ko", "en"] = "ko"
    lang_cookie_name: str = "tk_lang"  # the language switcher's choice, remembered a year
    # IANA zone of events whose venue names none (venues carry their own).
    default_time_zone: str = "Asia/Seoul"

    # --- tests / e2e ---
    browser_path: str = ""
    # Test-only fault points (ticketing_app/faults.py): comma-separated step names where the
    # process pauses FAULT_INJECT_PAUSE_S so a fault test can kill it there. Refused in
    # production.
    fault_inject: str = ""
    fault_inject_pause_s: float = 3600.0
    # Benchmarks only (scenario 5): the web process also answers POST /api/live/reference/{id}
    # by emitting the event's last live-sync broadcast again, bare, to its room (the reference
    # the product's broadcast is timed against). Refused in production.
    live_sync_reference: bool = False
    currency: str = "KRW"

    @field_validator("data_dir", mode="after")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        """Resolved once, against the directory the command ran in: Valkey runs in its own
        directory and `up`'s children in the project's, so a relative DATA_DIR would name a
        different place in each (Valkey refused to start: 'dir ".mydata/valkey"')."""
        return Path(os.path.abspath(value.expanduser()))

    @field_validator("default_time_zone", mode="after")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"DEFAULT_TIME_ZONE {value!r} is not an IANA time zone "
                             "(e.g. Asia/Seoul)") from None
        return value

    @field_validator("audit_interval_s", mode="after")
    @classmethod
    def _even_audit_ticks(cls, value: int) -> int:
        if value == 0 or (value < 60 and 60 % value == 0) or \
                (value < 3600 and value % 60 == 0 and 60 % (value // 60) == 0) or \
                (value <= 86400 and value % 3600 == 0 and 24 % (value // 3600) == 0):
            return value
        raise ValueError(f"AUDIT_INTERVAL_S {value} must divide a minute, an hour or a day "
                         "(e.g. 30, 60, 300, 900, 3600), or be 0 (off)")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list) and "*" in value:
            raise ValueError("CORS_ORIGINS takes explicit origins, not '*'")
        return value

    @model_validator(mode="after")
    def _refuse_default_secret_in_production(self) -> Settings:
        if self.app_env == "production":
            if self.secret_key == DEV_SECRET or len(self.secret_key) < MIN_SECRET_LENGTH:
                raise ValueError(f"SECRET_KEY must be set in production, at least "
                                 f"{MIN_SECRET_LENGTH} characters (openssl rand -hex 32)")
            if self.trust_caller_id:
                raise ValueError("TRUST_CALLER_ID must be false in production (anyone could "
                                 "act as any buyer): buyers use tokens from POST /api/buyers")
        elif self.app_env == "development" and self.secret_key == DEV_SECRET:
            self.secret_key = local_secret(self.data_dir)
        if self.app_env == "production" and self.fault_inject:
            raise ValueError("FAULT_INJECT is for tests; it is refused in production")
        if self.app_env == "production" and self.live_sync_reference:
            raise ValueError("LIVE_SYNC_REFERENCE is for benchmarks; it is refused in production")
        unknown = self.fault_points - FAULT_POINTS
        if unknown:
            raise ValueError(f"FAULT_INJECT: unknown fault points {sorted(unknown)}")
        if not 0.0 <= self.payment_success_rate <= 1.0:
            raise ValueError("PAYMENT_SUCCESS_RATE must be between 0 and 1")
        if not self.hold_min_s <= self.hold_default_s <= self.hold_max_s:
            raise ValueError("need HOLD_MIN_S <= HOLD_DEFAULT_S <= HOLD_MAX_S")
        if self.web_hold_s > self.web_hold_max_total_s:
            raise ValueError("need WEB_HOLD_S <= WEB_HOLD_MAX_TOTAL_S")
        if self.app_env == "production" and self.dev_mail_dir:
            raise ValueError("DEV_MAIL_DIR is the development mail sink's; refused in production")
        return self

    @property
    def effective_database_url(self) -> str:
        """The async SQLAlchemy URL; SQLite in the data dir when nothing is set."""
        url = self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'ticketing.db'}"
        return to_async_url(url)

    @property
    def fault_points(self) -> frozenset[str]:
        return frozenset(p.strip() for p in self.fault_inject.split(",") if p.strip())

    @property
    def web_processes(self) -> int:
        return self.web_workers or os.cpu_count() or 1

    @property
    def redis_is_cluster(self) -> bool:
        """REDIS_URL names a cluster: REDIS_CLUSTER=true, or several seed nodes."""
        return self.redis_cluster or "," in self.redis_url

    @property
    def effective_jobs_redis_url(self) -> str:
        """ARQ, payment outcomes and Reflex state: JOBS_REDIS_URL, else REDIS_URL when that is
        a plain Redis ('' when neither: a cluster needs JOBS_REDIS_URL)."""
        if self.jobs_redis_url:
            return self.jobs_redis_url
        return "" if self.redis_is_cluster else self.redis_url

    @property
    def web_state_in_redis(self) -> bool:
        """Reflex session state lives in Redis (the jobs Redis) when asked, or when several
        web processes share sessions (a reconnect may land on another process)."""
        return bool(self.effective_jobs_redis_url) and (
            self.web_state_redis or self.web_processes > 1)

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    def browser_origins(self) -> list[str]:
        """Origins allowed to call the API from a browser and to open the live-sync websocket:
        PUBLIC_URL's (with its other loopback spelling for a local run) and CORS_ORIGINS."""
        public = _origin(self.public_url)
        origins = [public] if public else []
        parts = urlsplit(self.public_url)
        alias = {"localhost": "127.0.0.1", "127.0.0.1": "localhost"}.get(parts.hostname or "")
        if alias:
            port = f":{parts.port}" if parts.port else ""
            origins.append(f"{parts.scheme}://{alias}{port}")
        origins += [o for o in (_origin(x) for x in self.cors_origins) if o]
        return list(dict.fromkeys(origins))


def _origin(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def local_secret(data_dir: Path) -> str:
    """Development without SECRET_KEY: a random key generated once into DATA_DIR, so every
    local process (web, API, worker) signs with the same key and nobody can forge tokens with
    the well-known default. Falls back to the default (with a warning) if DATA_DIR is not
    writable."""
    path = data_dir / "secret_key"
    try:
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            tmp = data_dir / f".secret_key.{os.getpid()}"
            tmp.write_text(secrets.token_hex(32))
            tmp.chmod(0o600)
            try:
                os.link(tmp, path)  # atomic: the first process wins, the others read its key
                log.warning("SECRET_KEY is not set: generated a development key in %s", path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
        key = path.read_text().strip()
        if len(key) >= MIN_SECRET_LENGTH:
            return key
    except OSError as exc:
        log.warning("SECRET_KEY is not set and %s is not usable (%s)", path, exc)
    log.warning("SECRET_KEY is not set: using the insecure development default")
    return DEV_SECRET


def to_async_url(url: str) -> str:
    """Accept the usual spellings (postgres://, postgresql://, sqlite://) and pick async drivers."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url[len("postgresql://") :]
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


def to_sync_url(url: str) -> str:
    """The same database through a synchronous driver, for Alembic."""
    return url.replace("sqlite+aiosqlite://", "sqlite://").replace(
        "postgresql+asyncpg://", "postgresql+psycopg://")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Tests and the CLI change the environment and then re-read it."""
    get_settings.cache_clear()


def plain_postgres_url(url: str) -> str:
    """A PostgreSQL URL without the SQLAlchemy driver suffix (for libpq clients)."""
    for driver in ("+asyncpg", "+psycopg"):
        url = url.replace(f"postgresql{driver}://", "postgresql://")
    return url
