"""The call page and the dashboard: public HTML in Arabic (right-to-left) or English."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize("path", ["/", "/dashboard"])
def test_pages_in_both_languages(anon: httpx.Client, path: str):
    default = anon.get(path)
    assert default.status_code == 200
    assert default.headers["content-type"].startswith("text/html")
    assert '<html lang="ar" dir="rtl">' in default.text
    english = anon.get(path, params={"lang": "en"})
    assert '<html lang="en" dir="ltr">' in english.text
    assert "{{" not in english.text and "{{" not in default.text
    unknown = anon.get(path, params={"lang": "<script>"})
    assert unknown.status_code == 200 and '<html lang="ar" dir="rtl">' in unknown.text
    assert "<script>" not in unknown.text.split("<html", 1)[0]
