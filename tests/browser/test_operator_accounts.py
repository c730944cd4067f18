"""Operator accounts in a real browser: the first admin is created with the README's command,
signs in, creates a supervisor and an agent; each signs in in a browser context of their own
and sees only what their role may use; signing out ends the session."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from app.routers.pages import STATIC
from tests.api.conftest import RunningApi, running_api
from tests.browser.conftest import DESKTOP, new_page, screenshot
from tests.support import PROJECT_ROOT, PYTHON

STRINGS = json.loads((STATIC / "i18n.json").read_text(encoding="utf-8"))["en"]
ADMIN = ("amal", "Amal Haddad", "amal-first-pass-2026")
SUPERVISOR = ("sami", "Sami Nasser", "sami-super-pass-2026")
AGENT = ("rana", "Rana Aziz", "rana-agent-pass-2026")


@pytest.fixture(scope="module")
def api() -> Iterator[RunningApi]:
    with running_api() as running:
        yield running


def create_first_admin(api: RunningApi) -> str:
    """The README's first-run command, on the API's CRM, the password on standard input."""
    login, name, password = ADMIN
    done = subprocess.run(
        [PYTHON, "-m", "app.accounts", "create-admin", login, "--name", name],
        cwd=PROJECT_ROOT,
        env=api.env,
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert password not in done.stdout + done.stderr
    return done.stdout


def sign_in(page: Page, login: str, password: str) -> None:
    page.goto("/dashboard?lang=en")
    page.locator("#login").fill(login)
    page.locator("#password").fill(password)
    page.locator("#sign-in-account").click()
    expect(page.locator("#app")).to_be_visible()


def tabs(page: Page) -> list[str]:
    return [t for t in page.locator("nav.tabs a:visible").all_inner_texts()]


def create_operator(page: Page, login: str, name: str, role: str, password: str) -> None:
    page.locator("#op-login").fill(login)
    page.locator("#op-name").fill(name)
    page.locator("#op-role").select_option(role)
    page.locator("#op-password").fill(password)
    page.locator("#new-operator button[type=submit]").click()
    expect(page.locator("#operators")).to_contain_text(login)


def test_first_admin_creates_operators_who_see_only_their_role(browser: Browser, api: RunningApi):
    assert "created the admin 'amal'" in create_first_admin(api)

    admin = new_page(browser, api.base_url, viewport=DESKTOP)
    sign_in(admin, ADMIN[0], ADMIN[2])
    expect(admin.locator("#whoami")).to_contain_text("Amal Haddad")
    assert tabs(admin) == [
        STRINGS[k]
        for k in (
            "dash_nav_calls",
            "dash_nav_customers",
            "dash_nav_tickets",
            "dash_nav_analytics",
            "dash_nav_operators",
            "dash_nav_audit",
            "dash_nav_account",
        )
    ]
    admin.locator("nav.tabs a[data-tab=operators]").click()
    create_operator(admin, SUPERVISOR[0], SUPERVISOR[1], "supervisor", SUPERVISOR[2])
    create_operator(admin, AGENT[0], AGENT[1], "agent", AGENT[2])
    screenshot(admin, "dashboard-operators-en.png")

    # an unverified call with a ticket, for the link form
    anon = api.client(key=None)
    call_id = anon.post("/api/calls", json={"name": "Caller", "phone": "0509991234"}).json()[
        "call_id"
    ]

    supervisor = new_page(browser, api.base_url, viewport=DESKTOP)
    sign_in(supervisor, SUPERVISOR[0], SUPERVISOR[2])
    assert STRINGS["dash_nav_operators"] not in tabs(supervisor)
    assert STRINGS["dash_nav_audit"] in tabs(supervisor)
    supervisor.goto(f"/dashboard?lang=en#call/{call_id}")
    expect(supervisor.locator("#link-form")).to_be_visible()  # supervisors link calls
    supervisor.locator("nav.tabs a[data-tab=audit]").click()
    expect(supervisor.locator("#audit")).to_contain_text("operator.create")
    expect(supervisor.locator("#audit")).to_contain_text("amal")

    agent = new_page(browser, api.base_url, viewport=DESKTOP)
    sign_in(agent, AGENT[0], AGENT[2])
    assert STRINGS["dash_nav_operators"] not in tabs(agent)
    assert STRINGS["dash_nav_audit"] not in tabs(agent)
    agent.goto(f"/dashboard?lang=en#call/{call_id}")
    expect(agent.locator("#transcript")).to_be_visible()
    expect(agent.locator("#link-form")).to_have_count(0)  # agents do not link calls
    assert agent.errors == [] and supervisor.errors == [] and admin.errors == []

    # signing out ends the session, not just the page
    cookie = {c["name"]: c["value"] for c in supervisor.context.cookies()}["ornina_session"]
    supervisor.locator("#sign-out").click()
    expect(supervisor.locator("#signin-area")).to_be_visible()
    with httpx.Client(base_url=api.base_url, cookies={"ornina_session": cookie}) as stolen:
        assert stolen.get("/api/calls").status_code == 401

    # the audit trail names who did each change
    trail = api.client().get("/api/audit", params={"action": "operator.create"}).json()
    assert {(a["operator_login"], a["details"]["login"]) for a in trail} == {
        ("command-line", "amal"),
        ("amal", "sami"),
        ("amal", "rana"),
    }
