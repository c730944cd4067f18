"""`GET /api/personas` (public): names and departments, never prompts."""

from __future__ import annotations

import httpx


def test_lists_the_three_personas_without_prompts(anon: httpx.Client):
    response = anon.get("/api/personas")
    assert response.status_code == 200
    personas = {p["key"]: p for p in response.json()}
    assert set(personas) == {"reception", "sales", "complaints"}
    assert personas["reception"]["name"] == {"en": "Ahmed", "ar": "أحمد"}
    assert personas["sales"]["name"] == {"en": "Sarah", "ar": "سارة"}
    assert personas["complaints"]["name"] == {"en": "Mohammed", "ar": "محمد"}
    assert set(personas["sales"]["transfers_to"]) <= set(personas)
    text = response.text
    for secret_part in ("identify_caller", "switch_language", "Never reveal", "لا تكشف"):
        assert secret_part not in text
