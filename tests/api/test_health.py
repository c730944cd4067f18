"""Health, readiness and the OpenAPI documents."""

from __future__ import annotations

import httpx

from tests.api.conftest import Route, assert_error


def test_healthz(anon: httpx.Client):
    response = anon.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_names_the_failing_parts(anon: httpx.Client):
    response = anon.get("/readyz")
    error = assert_error(response, 503, "not_ready")
    checks = error["checks"]
    assert checks["crm"] == "ok"
    assert checks["agent_worker"] != "ok" and "worker" in checks["agent_worker"]
    assert checks["livekit"] != "ok" and "LiveKit" in checks["livekit"]
    assert "agent_worker" in error["message"] and "livekit" in error["message"]
    assert "crm" not in error["message"]
    assert set(error["missing_provider_keys"]) == {"OPENAI_API_KEY", "ELEVEN_API_KEY"}


def test_docs_and_openapi(anon: httpx.Client, app_routes: list[Route]):
    docs = anon.get("/docs")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]
    assert "swagger" in docs.text.lower()
    for page in ("/redoc", "/docs/oauth2-redirect"):
        response = anon.get(page)
        assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    schema = anon.get("/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for route in app_routes:
        if route.is_api:
            assert route.method.lower() in paths.get(route.path, {}), route
