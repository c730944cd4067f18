from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response

from app.auth import Can, OperatorDep, record_change
from app.crm import services
from app.crm.db import writing
from app.deps import DbDep
from app.routers.pagination import PathId
from app.schemas import ServiceCreate, ServicePublic, ServiceUpdate, error_responses

router = APIRouter(
    prefix="/api/services",
    tags=["services"],
    dependencies=[OperatorDep],
    responses=error_responses(400, 401, 404, 422),
)


@router.get("", response_model=list[ServicePublic])
def list_services(db: DbDep) -> list[dict]:
    """The service catalog (sample entries are marked `is_sample`)."""
    return services.list_services(db)


@router.put("", response_model=list[ServicePublic])
def replace_catalog(
    body: Annotated[list[ServiceCreate], Body(max_length=500)],
    db: DbDep,
    actor: Can("catalog.write"),
) -> list[dict]:
    """Replace the whole catalog, the sample one included."""
    with writing(db):
        catalog = services.replace_catalog(db, services=[s.model_dump() for s in body])
        record_change(db, actor, "catalog.replace", "service", codes=[s["code"] for s in catalog])
    return catalog


@router.get("/{service_id}", response_model=ServicePublic)
def get_service(service_id: PathId, db: DbDep) -> dict:
    """One catalog entry."""
    return services.get_service(db, service_id=service_id)


@router.post("", status_code=201, response_model=ServicePublic)
def create_service(body: ServiceCreate, db: DbDep, actor: Can("catalog.write")) -> dict:
    """Add a service to the catalog."""
    with writing(db):
        service = services.create_service(db, **body.model_dump())
        record_change(db, actor, "service.create", "service", service["id"], code=service["code"])
    return service


@router.patch("/{service_id}", response_model=ServicePublic)
def update_service(
    service_id: PathId, body: ServiceUpdate, db: DbDep, actor: Can("catalog.write")
) -> dict:
    """Change some of a service's fields (a field sent as null stays as it is)."""
    changes = body.model_dump(exclude_none=True)
    with writing(db):
        service = services.update_service(db, service_id=service_id, **changes)
        record_change(db, actor, "service.update", "service", service_id, changes=changes)
    return service


@router.delete("/{service_id}", status_code=204)
def delete_service(service_id: PathId, db: DbDep, actor: Can("catalog.write")) -> Response:
    """Remove a service; existing quotes keep their copy of it."""
    with writing(db):
        code = services.get_service(db, service_id=service_id)["code"]
        services.delete_service(db, service_id=service_id)
        record_change(db, actor, "service.delete", "service", service_id, code=code)
    return Response(status_code=204)
