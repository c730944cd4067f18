"""Signing in to the dashboard: a session cookie (HttpOnly, SameSite=Strict, Secure over
HTTPS) that expires, a CSRF token for the requests that change something, and signing out."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from app.auth import SESSION_COOKIE, ActorDep, csrf_token
from app.crm import operators
from app.deps import DbDep, client_address
from app.schemas import Body, error_responses

logger = logging.getLogger("ornina.api.session")
router = APIRouter(prefix="/api/session", tags=["session"])
WRONG = "wrong login or password"


class SignIn(Body):
    login: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=operators.MAX_PASSWORD)


def _secure(request: Request) -> bool:
    """Secure whenever the page is served over HTTPS: directly, through the bundle's Caddy, or
    in public mode at all (behind another TLS proxy the scheme may not say so)."""
    return request.url.scheme == "https" or bool(request.app.state.settings.public_host)


@router.post("", responses=error_responses(400, 401, 422, 429))
async def sign_in(body: SignIn, request: Request, response: Response, db: DbDep) -> dict:
    """Sign in with login and password: sets the session cookie, returns the operator and the
    CSRF token to send as `X-CSRF-Token` (rate-limited per login and address)."""
    login, address = body.login.strip().lower(), client_address(request)
    if not login:
        raise HTTPException(422, "login: empty")
    limiter = request.app.state.signin_limiter
    delay = limiter.attempt(login, address)
    if delay:
        await asyncio.sleep(delay)  # slowed: a guesser gets few tries a minute
    async with request.app.state.password_checks:  # each check takes 64 MiB for a moment
        operator = await run_in_threadpool(
            operators.authenticate, db, login=login, password=body.password
        )
    if operator is None:
        # the login as typed only when it is one (not an email or a password typed by mistake)
        shown = login if operators.LOGIN.match(login) else "(not a login)"
        logger.warning("sign-in refused: login %s from %s", shown, address)
        raise HTTPException(401, WRONG)
    limiter.succeeded(login, address)
    token, expires = await run_in_threadpool(
        operators.start_session, db, operator_id=operator["id"]
    )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(operators.SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/",
    )
    return {"operator": operator, "csrf_token": csrf_token(token), "expires_at": expires}


@router.get("", responses=error_responses(401))
def current_session(request: Request, actor: ActorDep) -> dict:
    """Who is signed in (or whose key this is), their role and what it allows; with a
    session, its CSRF token."""
    token = request.cookies.get(SESSION_COOKIE)
    csrf = csrf_token(token) if token and actor.via == "session" else None
    return {"operator": actor.public(), "csrf_token": csrf}


@router.delete("", status_code=204, responses=error_responses(401, 403))
def sign_out(request: Request, actor: ActorDep, db: DbDep) -> Response:
    """End this session (the cookie is cleared)."""
    token = request.cookies.get(SESSION_COOKIE)
    if token and actor.via == "session":
        operators.end_session(db, token=token)
    response = Response(status_code=204)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request)
    )
    return response
