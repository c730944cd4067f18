"""Operator accounts (admins) and personal API keys (their owner, or an admin)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Response
from pydantic import Field, StrictBool

from app.auth import ActorDep, Can, OperatorDep, record_change
from app.crm import operators, writing
from app.deps import DbDep
from app.routers.pagination import PathId
from app.schemas import Body, error_responses

router = APIRouter(
    prefix="/api/operators",
    tags=["operators"],
    dependencies=[OperatorDep],
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
Role = Literal["admin", "supervisor", "agent"]


class OperatorCreate(Body):
    login: str = Field(min_length=2, max_length=64)
    name: str = Field(min_length=1, max_length=120)
    role: Role
    password: str = Field(min_length=operators.MIN_PASSWORD, max_length=operators.MAX_PASSWORD)


class OperatorUpdate(Body):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    role: Role | None = None
    active: StrictBool | None = None
    password: str | None = Field(
        default=None, min_length=operators.MIN_PASSWORD, max_length=operators.MAX_PASSWORD
    )


class KeyCreate(Body):
    name: str = Field(min_length=1, max_length=120)


@router.get("")
def list_operators(db: DbDep, actor: Can("operators.manage")) -> list[dict]:
    """Every operator account (no password hashes)."""
    return operators.list_operators(db)


@router.post("", status_code=201)
def create_operator(body: OperatorCreate, db: DbDep, actor: Can("operators.manage")) -> dict:
    """Create an operator account with a role and a first password."""
    operator = operators.create_operator(db, **body.model_dump())
    record_change(
        db,
        actor,
        "operator.create",
        "operator",
        operator["id"],
        login=operator["login"],
        role=operator["role"],
    )
    return operator


@router.patch("/{operator_id}")
def update_operator(
    operator_id: PathId, body: OperatorUpdate, db: DbDep, actor: Can("operators.manage")
) -> dict:
    """Change an operator's name or role, disable or enable them, or set a new password
    (disabling or a new password ends their sessions)."""
    changes = body.model_dump(exclude_unset=True)
    if actor.id == operator_id and {"role", "active"} & set(changes):
        raise HTTPException(409, "you cannot change your own role or disable yourself")
    shown = {k: v for k, v in changes.items() if k != "password"}
    if "password" in changes:
        shown["password"] = "changed"
    with writing(db):
        operator = operators.update_operator(db, operator_id=operator_id, **changes)
        record_change(db, actor, "operator.update", "operator", operator_id, **shown)
    return operator


def _owner_or_admin(actor, operator_id: int) -> None:
    if actor.id != operator_id and "operators.manage" not in actor.permissions:
        raise HTTPException(403, "only the key's owner or an admin may do that")


@router.get("/{operator_id}/keys")
def list_keys(operator_id: PathId, db: DbDep, actor: ActorDep) -> list[dict]:
    """An operator's personal API keys (never the keys themselves)."""
    _owner_or_admin(actor, operator_id)
    return operators.list_keys(db, operator_id=operator_id)


@router.post("/{operator_id}/keys", status_code=201)
def create_key(operator_id: PathId, body: KeyCreate, db: DbDep, actor: ActorDep) -> dict:
    """A new personal API key, for scripts and integrations: shown in this answer only."""
    _owner_or_admin(actor, operator_id)
    with writing(db):
        key = operators.create_key(db, operator_id=operator_id, name=body.name)
        record_change(
            db, actor, "key.create", "operator", operator_id, key_id=key["id"], name=key["name"]
        )
    return key


@router.delete("/{operator_id}/keys/{key_id}", status_code=204)
def revoke_key(operator_id: PathId, key_id: PathId, db: DbDep, actor: ActorDep) -> Response:
    """Revoke a personal API key: it stops working at once."""
    _owner_or_admin(actor, operator_id)
    with writing(db):
        operators.revoke_key(db, operator_id=operator_id, key_id=key_id)
        record_change(db, actor, "key.revoke", "operator", operator_id, key_id=key_id)
    return Response(status_code=204)
