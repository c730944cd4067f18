"""The README documents every API route."""

from __future__ import annotations

from tests.api.conftest import Route
from tests.support import PROJECT_ROOT


def test_readme_mentions_every_api_route(app_routes: list[Route]):
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    missing = sorted({r.path for r in app_routes if r.is_api and r.path not in readme})
    assert not missing, f"README.md does not mention: {', '.join(missing)}"
