"""Operator accounts: named people with a role, their sign-in sessions and personal API keys.

Passwords are stored only as Argon2id hashes; session tokens and API keys (random, 256 bits)
only as SHA-256 digests. Nothing secret is ever returned except a new key, once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlite_utils import Database

from app.crm.clock import iso, now, now_iso
from app.crm.db import writing
from app.crm.errors import Conflict, InvalidInput, NotFound
from app.crm.fields import NAME_MAX, clean_text
from app.crm.queries import insert_row

ROLES = ("admin", "supervisor", "agent")
LOGIN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 256
SESSION_TTL = timedelta(hours=8)
KEY_PREFIX = "ornina_"
_HASHER = PasswordHasher()
_NO_ONE = _HASHER.hash(secrets.token_urlsafe(16))
"""Checked against when the login does not exist, so a wrong login costs as long as a wrong
password and the answer time does not tell which logins exist."""
PUBLIC_COLUMNS = "id, login, name, role, active, created_at, updated_at"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _login(value: object) -> str:
    if not isinstance(value, str) or not LOGIN.match(value.strip().lower()):
        raise InvalidInput("login: 2-64 characters, letters, digits, '.', '_' or '-'")
    return value.strip().lower()


def _role(value: object) -> str:
    if value not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    return str(value)


def _password(value: object) -> str:
    if not isinstance(value, str) or not MIN_PASSWORD <= len(value) <= MAX_PASSWORD:
        raise InvalidInput(f"password: {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return value


def _public(row: dict) -> dict:
    return {**row, "active": bool(row["active"])}


def get_operator(db: Database, *, operator_id: int) -> dict:
    rows = list(db.query(f"SELECT {PUBLIC_COLUMNS} FROM operators WHERE id = ?", [operator_id]))
    if not rows:
        raise NotFound(f"operator {operator_id} not found")
    return _public(rows[0])


def list_operators(db: Database) -> list[dict]:
    return [_public(r) for r in db.query(f"SELECT {PUBLIC_COLUMNS} FROM operators ORDER BY id")]


def has_operators(db: Database) -> bool:
    return db.execute("SELECT 1 FROM operators LIMIT 1").fetchone() is not None


def create_operator(db: Database, *, login: str, name: str, role: str, password: str) -> dict:
    row = {
        "login": _login(login),
        "name": clean_text(name, "name", max_length=NAME_MAX),
        "role": _role(role),
        "password_hash": _HASHER.hash(_password(password)),
        "created_at": now_iso(),
    }
    row["updated_at"] = row["created_at"]
    with writing(db):
        if db.execute("SELECT 1 FROM operators WHERE login = ?", [row["login"]]).fetchone():
            raise Conflict(f"an operator with the login {row['login']!r} exists")
        operator_id = insert_row(db, "operators", row)
    return get_operator(db, operator_id=operator_id)


def update_operator(
    db: Database,
    *,
    operator_id: int,
    name: str | None = None,
    role: str | None = None,
    active: bool | None = None,
    password: str | None = None,
) -> dict:
    """Change an operator. Disabling one or setting a new password ends their sessions and
    revokes their personal keys (a reset after a leak leaves nothing of the old access). The
    last active admin stays an active admin."""
    changes: dict[str, object] = {}
    if name is not None:
        changes["name"] = clean_text(name, "name", max_length=NAME_MAX)
    if role is not None:
        changes["role"] = _role(role)
    if active is not None:
        changes["active"] = int(bool(active))
    if password is not None:
        changes["password_hash"] = _HASHER.hash(_password(password))
    with writing(db):
        current = get_operator(db, operator_id=operator_id)
        demoted = role is not None and role != "admin" or active is False
        if current["role"] == "admin" and current["active"] and demoted:
            others = db.execute(
                "SELECT COUNT(*) FROM operators WHERE role = 'admin' AND active = 1 AND id != ?",
                [operator_id],
            ).fetchone()[0]
            if others == 0:
                raise Conflict("the last active admin stays an admin: make another one first")
        if changes:
            db["operators"].update(operator_id, {**changes, "updated_at": now_iso()})
        if active is False or password is not None:
            end_sessions(db, operator_id=operator_id)
            db.execute(
                "UPDATE operator_keys SET revoked_at = ?"
                " WHERE operator_id = ? AND revoked_at IS NULL",
                [now_iso(), operator_id],
            )
    return get_operator(db, operator_id=operator_id)


def authenticate(db: Database, *, login: str, password: str) -> dict | None:
    """The active operator with this login and password, else None (in the same time)."""
    rows = list(
        db.query(
            "SELECT id, password_hash, active FROM operators WHERE login = ?",
            [login.strip().lower() if isinstance(login, str) else ""],
        )
    )
    stored = rows[0]["password_hash"] if rows else _NO_ONE
    try:
        _HASHER.verify(stored, password if isinstance(password, str) else "")
    except (VerificationError, InvalidHashError):
        return None
    if not rows or not rows[0]["active"]:
        return None
    return get_operator(db, operator_id=rows[0]["id"])


def start_session(db: Database, *, operator_id: int) -> tuple[str, str]:
    """A new session: its token (for the cookie, never stored) and its expiry time."""
    token = secrets.token_urlsafe(32)
    created = now()
    expires = iso(created + SESSION_TTL)
    with writing(db):
        insert_row(
            db,
            "operator_sessions",
            {
                "operator_id": operator_id,
                "token_hash": digest(token),
                "created_at": iso(created),
                "expires_at": expires,
            },
        )
    return token, expires


def session_operator(db: Database, *, token: str) -> dict | None:
    """The active operator of a live session, else None."""
    rows = list(
        db.query(
            "SELECT s.operator_id FROM operator_sessions s JOIN operators o ON o.id = s.operator_id"
            " WHERE s.token_hash = ? AND s.ended_at IS NULL AND s.expires_at > ? AND o.active = 1",
            [digest(token), now_iso()],
        )
    )
    return get_operator(db, operator_id=rows[0]["operator_id"]) if rows else None


def end_session(db: Database, *, token: str) -> None:
    with writing(db):
        db.execute(
            "UPDATE operator_sessions SET ended_at = ? WHERE token_hash = ? AND ended_at IS NULL",
            [now_iso(), digest(token)],
        )


def end_sessions(db: Database, *, operator_id: int) -> None:
    with writing(db):
        db.execute(
            "UPDATE operator_sessions SET ended_at = ? WHERE operator_id = ? AND ended_at IS NULL",
            [now_iso(), operator_id],
        )


def create_key(db: Database, *, operator_id: int, name: str) -> dict:
    """A personal API key; the key itself is in the answer once and never again."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = {
        "operator_id": operator_id,
        "name": clean_text(name, "name", max_length=NAME_MAX),
        "key_hash": digest(key),
        "prefix": key[: len(KEY_PREFIX) + 4],
        "created_at": now_iso(),
    }
    with writing(db):
        get_operator(db, operator_id=operator_id)
        key_id = insert_row(db, "operator_keys", row)
    return {**get_key(db, operator_id=operator_id, key_id=key_id), "key": key}


def get_key(db: Database, *, operator_id: int, key_id: int) -> dict:
    rows = list(
        db.query(
            "SELECT id, operator_id, name, prefix, created_at, revoked_at FROM operator_keys"
            " WHERE id = ? AND operator_id = ?",
            [key_id, operator_id],
        )
    )
    if not rows:
        raise NotFound(f"key {key_id} not found")
    return rows[0]


def list_keys(db: Database, *, operator_id: int) -> list[dict]:
    get_operator(db, operator_id=operator_id)
    return list(
        db.query(
            "SELECT id, operator_id, name, prefix, created_at, revoked_at FROM operator_keys"
            " WHERE operator_id = ? ORDER BY id",
            [operator_id],
        )
    )


def revoke_key(db: Database, *, operator_id: int, key_id: int) -> dict:
    with writing(db):
        get_key(db, operator_id=operator_id, key_id=key_id)
        db.execute(
            "UPDATE operator_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?",
            [now_iso(), key_id],
        )
    return get_key(db, operator_id=operator_id, key_id=key_id)


def key_operator(db: Database, *, key: str) -> dict | None:
    """The active operator whose unrevoked personal key this is, else None."""
    if not key.startswith(KEY_PREFIX):
        return None
    rows = list(
        db.query(
            "SELECT k.operator_id FROM operator_keys k JOIN operators o ON o.id = k.operator_id"
            " WHERE k.key_hash = ? AND k.revoked_at IS NULL AND o.active = 1",
            [digest(key)],
        )
    )
    return get_operator(db, operator_id=rows[0]["operator_id"]) if rows else None
