"""Dependencies shared by the routers, as `Annotated` aliases (tests override them)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
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


def require_operator(
    settings: SettingsDep,
    x_api_key: Annotated[str | None, Header()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    """The operator key, as `X-API-Key: KEY` or `Authorization: Bearer KEY`."""
    supplied = x_api_key
    if supplied is None and authorization and authorization.lower().startswith("bearer "):
        supplied = authorization[7:].strip()
    if not supplied:
        raise HTTPException(401, "operator key required", headers={"WWW-Authenticate": "Bearer"})
    expected = settings.operator_api_key.get_secret_value()
    if not secrets.compare_digest(supplied.encode(), expected.encode()):
        raise HTTPException(401, "wrong operator key", headers={"WWW-Authenticate": "Bearer"})


OperatorDep = Depends(require_operator)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
