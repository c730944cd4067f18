"""Every error leaves the API as JSON: `{"error": {"code", "message"}}`, never an HTML page
or a bare 500 for a client mistake."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.crm import Conflict, InvalidInput, NotFound

log = logging.getLogger("ornina.api")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "not_ready",
}


def error_body(status: int, message: str, **extra: object) -> dict:
    return {"error": {"code": _CODES.get(status, "error"), "message": message, **extra}}


def error_response(
    status: int, message: str, headers: dict | None = None, **extra: object
) -> JSONResponse:
    return JSONResponse(error_body(status, message, **extra), status_code=status, headers=headers)


def _validation_details(error: RequestValidationError) -> list[dict]:
    return [
        {
            "field": ".".join(str(p) for p in item["loc"] if p != "body") or "body",
            "message": item["msg"],
        }
        for item in error.errors()
    ]


def _allowed_methods(request: Request) -> str:
    """Starlette's 405 names the methods of the first route on the path only; one path can
    have several (`GET /api/calls` and `POST /api/calls` live in different routers)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if route.matches(request.scope)[0] is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def on_validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        details = _validation_details(error)
        message = "; ".join(f"{d['field']}: {d['message']}" for d in details[:3])
        return error_response(422, message or "invalid request", details=details)

    @app.exception_handler(InvalidInput)
    async def on_invalid_input(_: Request, error: InvalidInput) -> JSONResponse:
        return error_response(422, str(error))

    @app.exception_handler(Conflict)
    async def on_conflict(_: Request, error: Conflict) -> JSONResponse:
        return error_response(409, str(error))

    @app.exception_handler(NotFound)
    async def on_not_found(_: Request, error: NotFound) -> JSONResponse:
        return error_response(404, str(error))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        message = error.detail if isinstance(error.detail, str) else "request failed"
        headers = getattr(error, "headers", None)
        if error.status_code == 405:
            headers = {**(headers or {}), "Allow": _allowed_methods(request)}
        return error_response(error.status_code, message, headers=headers)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"error": {"code": "internal_error", "message": "internal error"}}, status_code=500
        )
