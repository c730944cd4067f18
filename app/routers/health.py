from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.deps import SettingsDep
from app.errors import error_body
from app.readiness import readiness
from app.schemas import error_responses

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict:
    """The API process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses=error_responses(503))
async def readyz(request: Request, settings: SettingsDep) -> JSONResponse:
    """Ready to take calls: CRM writable, this container's worker (when it runs one) registered
    under our agent name, LiveKit up, and with the phone line on, the SIP service healthy with
    its trunk provisioned. `remote_workers` counts the workers on other machines that report
    to this API (each has its own /readyz)."""
    checks = await readiness(settings)
    remote = len(request.app.state.worker_registry.fresh())
    missing_keys = settings.missing_provider_keys()
    failing = {part: problem for part, problem in checks.items() if problem}
    summary = {part: problem or "ok" for part, problem in checks.items()}
    if failing:
        message = "not ready: " + "; ".join(
            f"{part}: {problem}" for part, problem in failing.items()
        )
        body = error_body(
            503, message, checks=summary, missing_provider_keys=missing_keys, remote_workers=remote
        )
        return JSONResponse(body, status_code=503)
    return JSONResponse(
        {
            "status": "ready",
            "checks": summary,
            "missing_provider_keys": missing_keys,
            "remote_workers": remote,
        }
    )
