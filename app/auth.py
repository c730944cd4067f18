"""Who is calling an operator route, and whether their role allows it.

Three ways in: a dashboard session (an HttpOnly cookie, with a CSRF token header on every
request that changes something), a personal API key (`X-API-Key` or `Authorization: Bearer`),
or the installation's `OPERATOR_API_KEY`, which acts as an admin. A route names the permission
it needs (`require("tickets.write")`); app/roles.py says which roles have it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import (
    APIKeyCookie,
    APIKeyHeader,
    HTTPAuthorizationCredentials,
    HTTPBearer,
)

from app.crm import audit, operators
from app.deps import DbDep, SettingsDep
from app.roles import PERMISSIONS, ROLE_PERMISSIONS
from app.settings import Settings

SESSION_COOKIE = "ornina_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_api_key_header = APIKeyHeader(name="X-API-Key", scheme_name="OperatorKey", auto_error=False)
_bearer = HTTPBearer(scheme_name="OperatorBearer", auto_error=False)
_session_cookie = APIKeyCookie(name=SESSION_COOKIE, scheme_name="OperatorSession", auto_error=False)
_server_key_header = APIKeyHeader(name="X-Server-Key", scheme_name="ServerKey", auto_error=False)


@dataclass(frozen=True)
class Actor:
    """Who acts: an operator (by session or personal key), the installation key, or the
    trusted backend; `id` is None for the last two."""

    id: int | None
    login: str
    name: str
    role: str
    via: str

    @property
    def permissions(self) -> frozenset[str]:
        return ROLE_PERMISSIONS.get(self.role, frozenset())

    def public(self) -> dict:
        return {
            "id": self.id,
            "login": self.login,
            "name": self.name,
            "role": self.role,
            "via": self.via,
            "permissions": sorted(self.permissions),
        }


INSTALLATION_ADMIN = Actor(None, "installation-key", "Installation key", "admin", "installation")
TRUSTED_BACKEND = Actor(None, "trusted-backend", "Trusted backend", "backend", "server_key")


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session, derived from it: nothing more to store or leak."""
    return hmac.new(session_token.encode(), b"ornina-csrf", hashlib.sha256).hexdigest()


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def _operator_actor(operator: dict, via: str) -> Actor:
    return Actor(operator["id"], operator["login"], operator["name"], operator["role"], via)


def is_installation_key(supplied: str, settings: Settings) -> bool:
    """Whether `supplied` is the installation's OPERATOR_API_KEY (an admin)."""
    if settings.operator_api_key is None:
        return False
    expected = settings.operator_api_key.get_secret_value()
    return secrets.compare_digest(supplied.encode(), expected.encode())


def check_csrf(request: Request, session: str) -> None:
    """403 unless the request carries the session's CSRF token (a cross-site form or script
    cannot read it, so it cannot send it)."""
    supplied = request.headers.get(CSRF_HEADER, "")
    expected = csrf_token(session)
    if not secrets.compare_digest(supplied.encode(), expected.encode()):
        raise HTTPException(403, f"missing or wrong {CSRF_HEADER} header")


@dataclass(frozen=True)
class Credentials:
    """What an operator request carries: a key (`X-API-Key` or bearer) and the session cookie."""

    key: str | None
    session: str | None


async def credentials(
    x_api_key: Annotated[str | None, Depends(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session: Annotated[str | None, Depends(_session_cookie)],
) -> Credentials:
    return Credentials(x_api_key or (bearer.credentials if bearer else None), session)


CredentialsDep = Annotated[Credentials, Depends(credentials)]


async def current_actor(
    request: Request, settings: SettingsDep, db: DbDep, sent: CredentialsDep
) -> Actor:
    """The caller of an operator route, or 401."""
    supplied, session = sent.key, sent.session
    if supplied:
        if is_installation_key(supplied, settings):
            return INSTALLATION_ADMIN
        operator = operators.key_operator(db, key=supplied)
        if operator is None:
            raise _unauthorized("wrong, revoked or disabled operator key")
        return _operator_actor(operator, "api_key")
    if session:
        operator = operators.session_operator(db, token=session)
        if operator is None:
            raise _unauthorized("the session has ended: sign in again")
        if request.method not in SAFE_METHODS:
            check_csrf(request, session)
        return _operator_actor(operator, "session")
    raise _unauthorized("sign in, or send an operator key")


ActorDep = Annotated[Actor, Depends(current_actor)]


def require(permission: str) -> Callable[..., Awaitable[Actor]]:
    """A dependency: the actor, if their role has `permission`; else 403."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    async def allowed(actor: ActorDep) -> Actor:
        if permission not in actor.permissions:
            raise HTTPException(403, f"the role {actor.role} may not {PERMISSIONS[permission]}")
        return actor

    allowed.__name__ = f"require_{permission.replace('.', '_')}"
    return allowed


def Can(permission: str):  # noqa: N802 (reads as a type in signatures: `actor: Can("...")`)
    return Annotated[Actor, Depends(require(permission))]


async def codes_issuer(
    request: Request,
    settings: SettingsDep,
    db: DbDep,
    x_server_key: Annotated[str | None, Depends(_server_key_header)],
    sent: CredentialsDep,
) -> Actor:
    """The trusted backend's key (`X-Server-Key`), or an operator who may issue codes."""
    trusted = settings.trusted_backend_key
    if x_server_key and trusted is not None:
        supplied, expected = x_server_key, trusted.get_secret_value()
        if secrets.compare_digest(supplied.encode(), expected.encode()):
            return TRUSTED_BACKEND
        raise _unauthorized("wrong server key")
    actor = await current_actor(request, settings, db, sent)
    return await require("codes.issue")(actor)


OperatorDep = Depends(require("read"))
"""Router-level: every operator route needs at least `read`; writes add their own."""


def record_change(
    db, actor: Actor, action: str, record_type: str, record_id: object = None, **details: object
) -> None:
    """An audit trail entry for a change `actor` made."""
    audit.record(
        db,
        operator_id=actor.id,
        operator_login=actor.login,
        action=action,
        record_type=record_type,
        record_id=record_id,
        **details,
    )
