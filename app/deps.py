"""Dependencies shared by the routers, as `Annotated` aliases (tests override them)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlite_utils import Database

from app.crm import connect
from app.settings import Settings, get_settings

SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_db(settings: SettingsDep) -> Iterator[Database]:
    """One connection per request: sqlite3 connections are not shared between threads."""
    db = connect(settings.crm_db_path)
    try:
        yield db
    finally:
        db.close()


DbDep = Annotated[Database, Depends(get_db)]


# Declared as security schemes so the OpenAPI spec (and /docs) shows how to authenticate.
_api_key_header = APIKeyHeader(name="X-API-Key", scheme_name="OperatorKey", auto_error=False)
_bearer = HTTPBearer(scheme_name="OperatorBearer", auto_error=False)


def require_operator(
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
