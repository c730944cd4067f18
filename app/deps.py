"""Dependencies shared by the routers, as `Annotated` aliases."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlite_utils import Database

from app.settings import Settings


async def app_settings(request: Request) -> Settings:
    """The settings `create_app` was given (async: no thread hop for a constant; and not a
    `dependency_overrides` entry, which FastAPI re-inspects on every request)."""
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(app_settings)]


async def get_db(request: Request) -> AsyncIterator[Database]:
    """A pooled CRM connection for this request.

    Async so FastAPI runs it on the event loop: taking and returning a connection is a queue
    operation, not worth two thread hops; the endpoint then uses it in its own thread.
    """
    with request.app.state.crm_pool.connection() as db:
        yield db


DbDep = Annotated[Database, Depends(get_db)]


# Declared as security schemes so the OpenAPI spec (and /docs) shows how to authenticate.
_api_key_header = APIKeyHeader(name="X-API-Key", scheme_name="OperatorKey", auto_error=False)
_bearer = HTTPBearer(scheme_name="OperatorBearer", auto_error=False)


async def require_operator(
    settings: SettingsDep,
    x_api_key: Annotated[str | None, Depends(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """The operator key, as `X-API-Key: KEY` or `Authorization: Bearer KEY`."""
    supplied = x_api_key or (bearer.credentials if bearer else None)
    if not supplied:
        raise HTTPException(401, "operator key required", headers={"WWW-Authenticate": "Bearer"})
    expected = settings.operator_api_key.get_secret_value()
    if not secrets.compare_digest(supplied.encode(), expected.encode()):
        raise HTTPException(401, "wrong operator key", headers={"WWW-Authenticate": "Bearer"})


OperatorDep = Depends(require_operator)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def check_server_key(settings: Settings, supplied: str | None) -> None:
    """The trusted backend's key (`X-Server-Key`), needed to start a call verified as a named
    customer: 401 when it is missing or wrong, or when this installation has none (the answer
    does not tell an outsider which)."""
    expected = settings.trusted_backend_key
    if not supplied:
        raise HTTPException(401, "naming a customer needs the X-Server-Key header")
    if expected is None:
        logging.getLogger("ornina.api").warning(
            "a call start named a customer, but TRUSTED_BACKEND_KEY is not set"
        )
        raise HTTPException(401, "wrong server key")
    if not secrets.compare_digest(supplied.encode(), expected.get_secret_value().encode()):
        raise HTTPException(401, "wrong server key")


_server_key_header = APIKeyHeader(name="X-Server-Key", scheme_name="ServerKey", auto_error=False)


async def require_operator_or_backend(
    settings: SettingsDep,
    x_server_key: Annotated[str | None, Depends(_server_key_header)],
    x_api_key: Annotated[str | None, Depends(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """The trusted backend's key (`X-Server-Key`) or the operator key."""
    trusted = settings.trusted_backend_key
    if x_server_key and trusted is not None:
        if secrets.compare_digest(x_server_key.encode(), trusted.get_secret_value().encode()):
            return
        raise HTTPException(401, "wrong server key", headers={"WWW-Authenticate": "Bearer"})
    await require_operator(settings, x_api_key, bearer)
