"""The call page (`/`) and the operator dashboard (`/dashboard`), in Arabic or English.

Both are public HTML: the dashboard's data calls carry the operator key the operator types in.
Every visible string comes from `app/static/i18n.json`, filled in here so the page arrives in
its language and direction; the page's scripts get the same strings as JSON.
"""

from __future__ import annotations

import html
import json
import re
from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from app.deps import SettingsDep
from app.settings import Settings

router = APIRouter(tags=["pages"], include_in_schema=False)

STATIC = Path(__file__).resolve().parent.parent / "static"
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z0-9_.]+)\s*\}\}")


@cache
def _strings() -> dict[str, dict[str, str]]:
    return json.loads((STATIC / "i18n.json").read_text(encoding="utf-8"))


@cache
def _template(name: str) -> str:
    return (STATIC / "pages" / f"{name}.html").read_text(encoding="utf-8")


def render(page: str, language: str) -> str:
    """The page's template with every `{{key}}` replaced by its text in `language`."""
    strings = _strings()[language]
    values = {
        **{key: html.escape(text) for key, text in strings.items()},
        "lang": language,
        "dir": "rtl" if language == "ar" else "ltr",
        "other_lang": "en" if language == "ar" else "ar",
        # JSON inside <script>: "<" escaped so no text can close the element.
        "strings_json": json.dumps(strings, ensure_ascii=False).replace("<", "\\u003c"),
    }
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], _template(page))


def _language(lang: str | None, settings: Settings) -> str:
    return lang if lang in ("ar", "en") else settings.default_language


@router.get("/", response_class=HTMLResponse)
def call_page(settings: SettingsDep, lang: str | None = None) -> HTMLResponse:
    """The caller's page: start a call in Arabic or English, captions, transfers, hang up."""
    return HTMLResponse(render("call", _language(lang, settings)))


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(settings: SettingsDep, lang: str | None = None) -> HTMLResponse:
    """The operator dashboard (its data calls need the operator key)."""
    return HTMLResponse(render("dashboard", _language(lang, settings)))
