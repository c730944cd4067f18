"""The API process: wiring only (settings, CRM, routers, errors)."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from app.access_log import AccessLogMiddleware
from app.crm import open_crm
from app.crm.pool import ConnectionPool
from app.crm.writer import CrmWriter
from app.errors import install_error_handlers
from app.lost_calls import LostCalls
from app.ratelimit import RateLimiter
from app.routers import (
    analytics,
    audit,
    call_start,
    callbacks,
    calls,
    customers,
    health,
    internal,
    operators,
    pages,
    personas,
    quotes,
    services,
    session,
    supervision,
    tickets,
    token_endpoint,
    verification,
    workers,
)
from app.settings import Settings, get_settings
from app.signin_limits import SignInLimiter
from app.worker_gate import WorkerGate
from app.worker_registry import WorkerRegistry

PASSWORD_CHECKS = 2
"""Argon2 checks at once: each holds 64 MiB and a thread; more sign-ins at once queue."""

ROUTERS = (
    health,
    call_start,
    token_endpoint,
    calls,
    customers,
    verification,
    tickets,
    callbacks,
    supervision,
    services,
    quotes,
    personas,
    analytics,
    session,
    operators,
    audit,
    workers,
    internal,
    pages,
)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        open_crm(settings.crm_db_path).close()
        lost_calls = LostCalls(
            settings, app.state.crm_writer, app.state.crm_pool, app.state.worker_gate
        )
        checking = asyncio.create_task(lost_calls.run(), name="lost-calls")
        yield
        checking.cancel()
        await asyncio.gather(checking, return_exceptions=True)
        await app.state.worker_gate.aclose()
        app.state.crm_writer.close()
        app.state.crm_pool.close()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = FastAPI(title="Ornina Call Center", version="0.1.0", lifespan=lifespan)
    app.state.call_rate_limiter = RateLimiter(settings.calls_rate_limit_per_minute)
    app.state.signin_limiter = SignInLimiter()
    app.state.password_checks = asyncio.Semaphore(PASSWORD_CHECKS)
    app.state.worker_registry = WorkerRegistry()
    app.state.worker_gate = WorkerGate(settings, app.state.worker_registry)
    app.state.settings = settings
    app.state.crm_pool = ConnectionPool(settings.crm_db_path)
    app.state.crm_writer = CrmWriter(settings.crm_db_path)
    app.add_middleware(AccessLogMiddleware)
    if settings.cors_origins:
        # browser apps on other origins may fetch call tokens; operator routes stay
        # unreachable cross-origin: X-API-Key is not an allowed header, credentials (the
        # session cookie) are not allowed, and the cookie is SameSite=Strict
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["POST"],
            allow_headers=["Content-Type", "X-Call-Key"],
        )
    install_error_handlers(app)
    for module in ROUTERS:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="static")
    return app


app = create_app(get_settings())
