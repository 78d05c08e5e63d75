"""Admin accounts and sessions.

Passwords are hashed with argon2id (argon2-cffi). A session is a random 256-bit secret handed
to the browser in a signed HttpOnly cookie; the database keeps only its SHA-256, so a leaked
table cannot be replayed. Sessions expire after ADMIN_SESSION_TTL_S whatever happens, and a
deactivated account loses every session at once.

Sign-in attempts are limited per username and per client address (ADMIN_LOGIN_ATTEMPTS_PER_MINUTE,
ten times that per address). An attempt is counted in one atomic script BEFORE its password is
checked, and the script's answer decides whether it is checked at all: however many arrive at the
same instant, at most the limit's worth reach the (slow) password check in a window. A successful
sign-in gives its attempt back, so only failures use up the limit.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from redis.asyncio import Redis
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from ticketing_app.clients.lua_scripts import register
from ticketing_app.db.engine import Database
from ticketing_app.db.models import AdminSession, AdminUser, AuditLog, now_utc
from ticketing_app.domain import errors
from ticketing_app.domain.identity import sign_value
from ticketing_app.domain.roles import Capability, Role, may, parse_role
from ticketing_app.holds.keys import RATE_PREFIX
from ticketing_app.observability import metrics
from ticketing_app.services.uow import UnitOfWork
from ticketing_app.settings import Settings

log = structlog.get_logger(__name__)

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-@]{3,80}$")
PASSWORD_MIN = 10
PASSWORD_MAX = 512
COOKIE_PREFIX = "a1"
ADDRESS_FACTOR = 10  # an office behind one address has several admins
# KEYS: attempts this minute from the address, and for the username. ARGV: their limits, the
# keys' lifetime. Counts the attempt and answers 1, or answers 0 (nothing counted) when either
# limit is used up: check and count are one step, so concurrent attempts cannot all pass.
_COUNT_ATTEMPT = """
if tonumber(redis.call('GET', KEYS[1]) or '0') >= tonumber(ARGV[1])
   or tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[2]) then
  return 0
end
for i = 1, 2 do
  redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], ARGV[3])
end
return 1
"""
# The same KEYS: a successful sign-in gives its attempt back (never below zero, never
# recreating a key that already expired).
_FORGIVE_ATTEMPT = """
for i = 1, 2 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
return 1
"""


def password_hasher(profile: str) -> PasswordHasher:
    """argon2id with one of argon2-cffi's parameter profiles (ARGON2_PROFILE)."""
    params = getattr(profiles, profile, None)
    if params is None or profile != profile.upper():
        raise ValueError(f"ARGON2_PROFILE {profile!r} is not one of argon2.profiles")
    return PasswordHasher.from_parameters(params)


@dataclass(frozen=True)
class AdminIdentity:
    user_id: int
    username: str
    expires_at: datetime
    role: str = Role.MANAGER.value

    def may(self, capability: Capability) -> bool:
        return may(self.role, capability)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_credentials_shape(username: str, password: str) -> None:
    problems = []
    if not USERNAME_RE.match(username or ""):
        problems.append({"field": "username",
                         "message": "3-80 letters, digits or . _ - @"})
    if not PASSWORD_MIN <= len(password or "") <= PASSWORD_MAX:
        problems.append({"field": "password",
                         "message": f"at least {PASSWORD_MIN} characters"})
    if problems:
        raise errors.ValidationFailed(
            f"Invalid admin account: {problems[0]['field']}: {problems[0]['message']}.",
            problems)


class AdminAuthService:
    """Accounts and sessions in the database (`db`), sign-in limits in Redis (`redis`);
    `settings` for the cookie's secret and name, the session lifetime and the limits."""

    def __init__(self, db: Database, redis: Redis, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.hasher = password_hasher(settings.argon2_profile)
        self._dummy_hash = ""
        self._count_attempt = register(redis, _COUNT_ATTEMPT)
        self._forgive_attempt = register(redis, _FORGIVE_ATTEMPT)

    async def _hash(self, password: str) -> str:
        # argon2 is deliberately slow: off the event loop, so a login never stalls sales.
        return await asyncio.to_thread(self.hasher.hash, password)

    async def _verify(self, stored: str | None, password: str) -> bool:
        if stored is None:  # unknown user: spend the same time, so names cannot be probed
            if not self._dummy_hash:
                self._dummy_hash = await self._hash(secrets.token_urlsafe(16))
            stored = self._dummy_hash
        try:
            return await asyncio.to_thread(self.hasher.verify, stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    # ---- cookie -------------------------------------------------------------------------
    def cookie_value(self, token: str) -> str:
        return f"{COOKIE_PREFIX}.{token}.{sign_value(self.settings.secret_key, 'admin', token)}"

    def token_from_cookie(self, value: str | None) -> str | None:
        """The session secret inside a cookie we signed, else None (no database lookup)."""
        if not value:
            return None
        parts = value.strip().split(".")
        if len(parts) != 3 or parts[0] != COOKIE_PREFIX or not parts[1]:
            return None
        expected = sign_value(self.settings.secret_key, "admin", parts[1])
        return parts[1] if hmac.compare_digest(parts[2], expected) else None

    def token_from_cookie_header(self, header: str) -> str | None:
        name = self.settings.admin_cookie_name
        for part in (header or "").split(";"):
            k, _, v = part.strip().partition("=")
            if k == name:
                return self.token_from_cookie(v)
        return None

    # ---- accounts -----------------------------------------------------------------------
    async def create_admin(self, username: str, password: str, actor: str = "cli",
                           role: str = Role.MANAGER.value) -> AdminUser:
        """A new account; `role` is manager (the default) or door (check-in only)."""
        check_credentials_shape(username, password)
        try:
            role = parse_role(role).value
        except ValueError as exc:
            raise errors.ValidationFailed(f"Invalid admin account: role: {exc}.",
                                          [{"field": "role", "message": str(exc)}]) from None
        user = AdminUser(username=username, password_hash=await self._hash(password), role=role)
        try:
            async with UnitOfWork(self.db) as uow:
                uow.session.add(user)
                await uow.session.flush()
                uow.session.add(AuditLog(actor=actor, action="admin.create",
                                         target=f"admin:{user.id}",
                                         details={"username": username, "role": role}))
                await uow.commit()
        except IntegrityError:
            raise errors.Conflict(f"An admin named {username!r} already exists.") from None
        return user

    async def set_password(self, username: str, password: str, actor: str = "cli") -> None:
        check_credentials_shape(username, password)
        async with UnitOfWork(self.db) as uow:
            user = (await uow.session.execute(select(AdminUser).where(
                col(AdminUser.username) == username))).scalar_one_or_none()
            if user is None:
                raise errors.NotFound(f"No admin named {username!r}.")
            user.password_hash = await self._hash(password)
            await uow.session.execute(delete(AdminSession).where(
                col(AdminSession.user_id) == user.id))
            uow.session.add(AuditLog(actor=actor, action="admin.password",
                                     target=f"admin:{user.id}", details={}))
            await uow.commit()

    async def list_admins(self) -> list[AdminUser]:
        async with self.db.read_sessions() as s:
            return list((await s.execute(select(AdminUser).order_by(col(AdminUser.id))))
                        .scalars())

    async def count_admins(self) -> int:
        async with self.db.read_sessions() as s:
            return int((await s.execute(select(func.count()).select_from(AdminUser)))
                       .scalar_one())

    async def ensure_bootstrap_admin(self) -> bool:
        """First start: ADMIN_BOOTSTRAP_USER / ADMIN_BOOTSTRAP_PASSWORD create the first admin
        when there is none yet (several processes may race: one wins, the rest see it)."""
        cfg = self.settings
        if not (cfg.admin_bootstrap_user and cfg.admin_bootstrap_password):
            return False
        if await self.count_admins():
            return False
        try:
            await self.create_admin(cfg.admin_bootstrap_user, cfg.admin_bootstrap_password,
                                    actor="bootstrap")
        except errors.Conflict:
            return False
        log.info("bootstrap_admin_created", username=cfg.admin_bootstrap_user)
        return True

    # ---- sign-in limits -----------------------------------------------------------------
    @staticmethod
    def attempt_keys(client: str, username: str, window: int) -> list[str]:
        """Both keys carry the hash tag {login}: one cluster slot, so one script sees both."""
        return [f"{RATE_PREFIX}login:{{login}}:ip:{client}:{window}",
                f"{RATE_PREFIX}login:{{login}}:user:{username.lower()[:80]}:{window}"]

    async def count_attempt(self, client: str, username: str) -> list[str] | None:
        """Counts one sign-in attempt (a fixed one-minute window) before it is checked, or
        raises 429 when the username's or the address's limit is used up. Returns the keys
        counted (None when there is no limit), for `forgive_attempt`."""
        limit = self.settings.admin_login_attempts_per_minute
        if limit <= 0:
            return None
        now = time.time()
        keys = self.attempt_keys(client, username, int(now // 60))
        if not int(await self._count_attempt(keys=keys, args=[ADDRESS_FACTOR * limit, limit, 61])):
            metrics.RATE_LIMITED.labels("login").inc()
            raise errors.RateLimited(retry_after=max(1, 60 - int(now) % 60), scope="login",
                                     message="Too many failed sign-ins; wait a minute.")
        return keys

    async def forgive_attempt(self, keys: list[str] | None) -> None:
        if keys:
            await self._forgive_attempt(keys=keys, args=[])

    # ---- sessions -----------------------------------------------------------------------
    async def login(self, username: str, password: str, client: str = "?"
                    ) -> tuple[str, AdminIdentity]:
        """(session secret, identity); a wrong name or password is the same 401, and past
        the sign-in limits (see the module's docstring) a 429 without checking anything."""
        counted = await self.count_attempt(client, username or "")
        token, who = await self._login(username, password)
        await self.forgive_attempt(counted)
        return token, who

    async def _login(self, username: str, password: str) -> tuple[str, AdminIdentity]:
        async with self.db.read_sessions() as s:
            user = (await s.execute(select(AdminUser).where(
                col(AdminUser.username) == (username or "")[:80]))).scalar_one_or_none()
        ok = await self._verify(user.password_hash if user else None,
                                (password or "")[:PASSWORD_MAX])
        if not ok or user is None or not user.is_active:
            raise errors.Unauthenticated("Wrong username or password.")
        token = secrets.token_urlsafe(32)
        now = now_utc()
        expires = now + timedelta(seconds=self.settings.admin_session_ttl_s)
        async with UnitOfWork(self.db) as uow:
            await uow.session.execute(delete(AdminSession).where(
                col(AdminSession.expires_at) < now))
            uow.session.add(AdminSession(id=_digest(token), user_id=int(user.id or 0),
                                         created_at=now, expires_at=expires))
            if self.hasher.check_needs_rehash(user.password_hash):
                fresh = await uow.session.get(AdminUser, user.id)
                if fresh is not None:
                    fresh.password_hash = await self._hash(password)
            uow.session.add(AuditLog(actor=user.username, action="admin.login",
                                     target=f"admin:{user.id}", details={}))
            await uow.commit()
        return token, AdminIdentity(int(user.id or 0), user.username, expires, user.role)

    async def identify(self, token: str | None) -> AdminIdentity | None:
        """The admin behind a live session, or None (unknown, expired or deactivated)."""
        if not token:
            return None
        async with self.db.read_sessions() as s:
            row = (await s.execute(
                select(AdminSession, AdminUser)
                .join(AdminUser, col(AdminUser.id) == col(AdminSession.user_id))
                .where(col(AdminSession.id) == _digest(token)))).first()
        if row is None:
            return None
        session, user = row
        expires = session.expires_at
        if expires <= now_utc() or not user.is_active:
            return None
        return AdminIdentity(int(user.id or 0), user.username, expires, user.role)

    async def identify_cookie_header(self, header: str) -> AdminIdentity | None:
        return await self.identify(self.token_from_cookie_header(header))

    async def logout(self, token: str | None) -> None:
        if not token:
            return
        async with UnitOfWork(self.db) as uow:
            row = await uow.session.get(AdminSession, _digest(token))
            if row is not None:
                user = await uow.session.get(AdminUser, row.user_id)
                await uow.session.delete(row)
                uow.session.add(AuditLog(actor=user.username if user else "?",
                                         action="admin.logout", target=f"admin:{row.user_id}",
                                         details={}))
                await uow.commit()
