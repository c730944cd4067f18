"""Dependencies shared by the routers, as `Annotated` aliases."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
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
