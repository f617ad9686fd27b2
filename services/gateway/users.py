"""People, not keys: a tenant's users, their roles and rights, passwords and sessions.

A user belongs to one tenant and has one role. Passwords are argon2id hashes
(argon2-cffi's defaults: RFC 9106's second recommended option); a wrong password counts
toward a lock-out (``lock_after`` failures lock the account for ``lock_s`` seconds, with a
message saying so), an unknown email costs the same hashing time. A user with a TOTP
secret also types the code of their authenticator. Sessions are random 256-bit tokens
stored as sha256 (the ops sessions' way, ``services/gateway/ops_sessions.py``), ending at
logout, at their absolute expiry, or after ``idle_s`` without a request. An invite is a
one-time link that lets a person set a password and signs them in.

Every right a page or action needs is a ``Right``; ``allowed`` says which roles hold it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

import asyncpg
import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.gateway.keys import token_hash


class Role(StrEnum):
    front_desk = "front_desk"
    coder = "coder"
    biller = "biller"
    manager = "manager"
    admin = "admin"


class Right(StrEnum):
    read = "read"  # home, work queues, claims, patient accounts (PHI: audited)
    fix = "fix"  # correct a claim's codes or data and send it on
    void = "void"  # void or correct an adjudicated claim
    payment = "payment"  # post a patient payment at the desk
    eligibility = "eligibility"  # run a front-desk eligibility check
    kpis = "kpis"  # the practice's figures
    adjust = "adjust"  # write off a balance, refund an account's credit
    approve = "approve"  # approve or reject a request above its requester's limit
    appeal = "appeal"  # draft and send an appeal of a payer's denial


RIGHTS: dict[Role, frozenset[Right]] = {
    Role.front_desk: frozenset({Right.read, Right.payment, Right.eligibility}),
    Role.coder: frozenset({Right.read, Right.fix}),
    Role.biller: frozenset(
        {Right.read, Right.fix, Right.void, Right.payment, Right.kpis, Right.adjust, Right.appeal}
    ),
    Role.manager: frozenset(Right),
    Role.admin: frozenset(Right),
}

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,60}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 200
_hasher = PasswordHasher()  # argon2id
_DUMMY = _hasher.hash("not a password anyone has")


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    tenant: str
    email: str
    role: Role

    @property
    def actor(self) -> str:
        """Who the audit log names."""
        return f"user:{self.user_id}"

    def may(self, right: Right) -> bool:
        return right in RIGHTS[self.role]


def check_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL.match(email):
        raise ValueError("not an email address")
    return email


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password has at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise ValueError(f"a password has at most {MAX_PASSWORD} characters")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_password(password))


def password_ok(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches; an account without one (or none found) spends the same time."""
    try:
        return _hasher.verify(stored or _DUMMY, password[:MAX_PASSWORD]) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def _user(row: asyncpg.Record) -> User:
    return User(row["user_id"], row["tenant"], row["email"], Role(row["role"]))


async def create(
    conn: asyncpg.Connection,
    tenant: str,
    email: str,
    role: Role,
    password: str | None,
    *,
    totp: bool = False,
) -> tuple[User, str | None]:
    """A new user (no password when invited) and their TOTP secret when asked for one."""
    email = check_email(email)
    pw = await asyncio.to_thread(hash_password, password) if password is not None else None
    secret = pyotp.random_base32() if totp else None
    user_id = "u_" + secrets.token_hex(6)
    await conn.execute(
        "INSERT INTO users(user_id, tenant, email, role, password_hash, totp_secret)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        user_id,
        tenant,
        email,
        role.value,
        pw,
        secret,
    )
    return User(user_id, tenant, email, role), secret


@dataclass(frozen=True, slots=True)
class Policy:
    lock_after: int
    lock_s: int


LOCKED = "Too many failed sign-ins: this account is locked for {minutes} minutes. Try again later."
WRONG = "That email and password do not match."
WRONG_CODE = "That authentication code is wrong or has expired."


async def sign_in(
    pool: asyncpg.Pool, email: str, password: str, code: str, policy: Policy
) -> tuple[User | None, str]:
    """The user, or None and the message the sign-in form shows."""
    row = await pool.fetchrow(
        "SELECT user_id, tenant, email, role, password_hash, totp_secret,"
        " coalesce(locked_until > now(), false) AS locked"
        " FROM users WHERE lower(email) = lower($1) AND disabled_at IS NULL",
        email.strip()[:300],
    )
    good = await asyncio.to_thread(password_ok, row["password_hash"] if row else None, password)
    if row is None:
        return None, WRONG
    if row["locked"]:
        return None, LOCKED.format(minutes=max(1, policy.lock_s // 60))
    if (
        good
        and row["totp_secret"]
        and not pyotp.TOTP(row["totp_secret"]).verify(code, valid_window=1)
    ):
        good, message = False, WRONG_CODE
    else:
        message = WRONG
    if not good:
        locked = await pool.fetchval(
            "UPDATE users SET"
            " failed_count = CASE WHEN failed_count + 1 >= $2 THEN 0 ELSE failed_count + 1 END,"
            " locked_until = CASE WHEN failed_count + 1 >= $2"
            "   THEN now() + $3 * interval '1 second' END"
            " WHERE user_id = $1 RETURNING locked_until IS NOT NULL",
            row["user_id"],
            policy.lock_after,
            policy.lock_s,
        )
        if locked:
            return None, LOCKED.format(minutes=max(1, policy.lock_s // 60))
        return None, message
    await pool.execute(
        "UPDATE users SET failed_count = 0, locked_until = NULL WHERE user_id = $1",
        row["user_id"],
    )
    return _user(row), ""


async def new_token(pool: asyncpg.Pool, kind: str, user_id: str, seconds: int) -> str:
    token = secrets.token_urlsafe(32)
    await pool.execute(
        "INSERT INTO user_sessions(token_hash, kind, user_id, expires_at)"
        " VALUES ($1, $2, $3, now() + $4 * interval '1 second')",
        token_hash(token),
        kind,
        user_id,
        seconds,
    )
    return token


async def session_user(pool: asyncpg.Pool, token: str, idle_s: int) -> User | None:
    """The session's user, its idle clock restarted; None when ended, expired or idle."""
    row = await pool.fetchrow(
        "WITH s AS (UPDATE user_sessions SET last_seen = now()"
        "  WHERE token_hash = $1 AND kind = 'session' AND expires_at > now()"
        "   AND last_seen > now() - $2 * interval '1 second' RETURNING user_id)"
        " SELECT u.user_id, u.tenant, u.email, u.role FROM s"
        " JOIN users u ON u.user_id = s.user_id WHERE u.disabled_at IS NULL",
        token_hash(token),
        idle_s,
    )
    return _user(row) if row else None


async def invite_user(pool: asyncpg.Pool, token: str) -> User | None:
    """The user an unspent invite names (not spent by looking)."""
    row = await pool.fetchrow(
        "SELECT u.user_id, u.tenant, u.email, u.role FROM user_sessions s"
        " JOIN users u ON u.user_id = s.user_id WHERE s.token_hash = $1"
        " AND s.kind = 'invite' AND s.expires_at > now() AND u.disabled_at IS NULL",
        token_hash(token),
    )
    return _user(row) if row else None


async def accept_invite(pool: asyncpg.Pool, token: str, password: str) -> User | None:
    """Sets the password and spends the invite; None when it is spent or expired."""
    pw = await asyncio.to_thread(hash_password, password)
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "WITH t AS (DELETE FROM user_sessions WHERE token_hash = $1 AND kind = 'invite'"
            "   AND expires_at > now() RETURNING user_id)"
            " UPDATE users u SET password_hash = $2, failed_count = 0, locked_until = NULL"
            " FROM t WHERE u.user_id = t.user_id AND u.disabled_at IS NULL"
            " RETURNING u.user_id, u.tenant, u.email, u.role",
            token_hash(token),
            pw,
        )
    return _user(row) if row else None


async def end(pool: asyncpg.Pool, token: str) -> None:
    await pool.execute(
        "DELETE FROM user_sessions WHERE token_hash = $1 OR expires_at < $2",
        token_hash(token),
        dt.datetime.now(dt.UTC),
    )


def totp_uri(secret: str, email: str) -> str:
    """The otpauth:// address an authenticator app reads (as a QR code or typed)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="RCM billing office")
