"""Operator accounts on a real API: every operator route against every role, sign-in sessions
(cookie flags, CSRF, expiry, sign-out), personal API keys, brute-force limits and the audit
trail; and no password, session token or key in the log or in the CRM in clear."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest

from app.crm import calls as crm_calls
from app.crm import customers as crm_customers
from app.crm import follow_ups as crm_follow_ups
from app.crm import operators as crm_operators
from app.crm import quotes as crm_quotes
from app.crm.clock import now
from tests.api.conftest import (
    PUBLIC_API_ROUTES,
    Route,
    RunningApi,
    assert_error,
    new_customer,
    running_api,
    unique_phone,
)

PASSWORD = {
    "admin": "admin-pass-Kq8x2Lm4Zt",
    "supervisor": "super-pass-Wv3n7Rb1Yd",
    "agent": "agent-pass-Hs5c9Pe6Ja",
}
ROLES = tuple(PASSWORD)
BYSTANDER: list[int] = []
"""An operator who is none of the signed-in ones: whose keys the others try to touch."""


@dataclass
class Signed:
    """An operator signed in through the API, as the dashboard is."""

    role: str
    operator: dict
    client: httpx.Client
    csrf: str
    secrets: list[str] = field(default_factory=list)

    def send(self, method: str, url: str, **kwargs) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if method not in ("GET", "HEAD"):
            headers["X-CSRF-Token"] = self.csrf
        return self.client.request(method, url, headers=headers, **kwargs)


def sign_in(
    api: RunningApi, login: str, password: str, **client_options
) -> tuple[httpx.Response, httpx.Client]:
    client = httpx.Client(base_url=api.base_url, timeout=30, **client_options)
    api.clients.append(client)
    return client.post("/api/session", json={"login": login, "password": password}), client


@pytest.fixture(scope="module")
def accounts() -> Iterator[tuple[RunningApi, dict[str, Signed]]]:
    with running_api() as api:
        admin_key = api.client()
        bystander = admin_key.post(
            "/api/operators",
            json={
                "login": "bystander1",
                "name": "B",
                "role": "agent",
                "password": "by-pass-000111",
            },
        ).json()
        BYSTANDER.append(bystander["id"])
        db = api.db()
        try:
            customer = crm_customers.create_customer(db, name="Quoted", phone=unique_phone())
            crm_quotes.create_quote(
                db, customer_id=customer["id"], items=[{"service_code": "website"}]
            )
        finally:
            db.close()
        signed = {}
        for role in ROLES:
            created = admin_key.post(
                "/api/operators",
                json={
                    "login": f"{role}1",
                    "name": f"{role.title()} One",
                    "role": role,
                    "password": PASSWORD[role],
                },
            )
            assert created.status_code == 201, created.text
            response, client = sign_in(api, f"{role}1", PASSWORD[role])
            assert response.status_code == 200, response.text
            body = response.json()
            signed[role] = Signed(role, body["operator"], client, body["csrf_token"])
            signed[role].secrets += [PASSWORD[role], client.cookies["ornina_session"]]
        yield api, signed


# -- every operator route against every role --------------------------------------------------

READ = set(ROLES)
EXPECTED: dict[str, set[str]] = {
    "GET /api/calls": READ,
    "GET /api/calls/unlinked": READ,
    "GET /api/calls/live": READ,
    "POST /api/calls/{call_id}/listen": {"admin", "supervisor"},
    "POST /api/calls/{call_id}/takeover": {"admin", "supervisor"},
    "POST /api/calls/{call_id}/handback": {"admin", "supervisor"},
    "GET /api/calls/{call_id}": READ,
    "POST /api/calls/{call_id}/link": {"admin", "supervisor"},
    "GET /api/customers": READ,
    "GET /api/customers/lookup": READ,
    "GET /api/customers/{customer_id}": READ,
    "POST /api/customers": READ,
    "PATCH /api/customers/{customer_id}": READ,
    "POST /api/customers/{customer_id}/verification-code": READ,
    "GET /api/tickets": READ,
    "GET /api/tickets/{ticket_id}": READ,
    "POST /api/tickets": READ,
    "POST /api/tickets/{ticket_id}/status": READ,
    "POST /api/tickets/{ticket_id}/callback": READ,
    "POST /api/follow-ups/{follow_up_id}/callback": READ,
    "GET /api/services": READ,
    "GET /api/workers": READ,
    "GET /api/services/{service_id}": READ,
    "PUT /api/services": {"admin"},
    "POST /api/services": {"admin"},
    "PATCH /api/services/{service_id}": {"admin"},
    "DELETE /api/services/{service_id}": {"admin"},
    "GET /api/quotes": READ,
    "GET /api/quotes/{quote_id}": READ,
    "GET /api/analytics/personas": READ,
    "GET /api/analytics/personas.csv": READ,
    "GET /api/analytics/calls.csv": READ,
    "GET /api/session": READ,
    "DELETE /api/session": READ,
    "GET /api/operators": {"admin"},
    "POST /api/operators": {"admin"},
    "PATCH /api/operators/{operator_id}": {"admin"},
    "GET /api/operators/{operator_id}/keys": {"admin"},  # another operator's keys
    "POST /api/operators/{operator_id}/keys": {"admin"},
    "DELETE /api/operators/{operator_id}/keys/{key_id}": {"admin"},
    "GET /api/audit": {"admin", "supervisor"},
    "GET /api/audit.csv": {"admin", "supervisor"},
}
"""Which roles may use each operator route: the README's table, written out independently of
app/roles.py so that a change there that the README does not make fails here."""
ALLOWED_BUT_REFUSED = {
    "POST /api/tickets/{ticket_id}/callback": (409, "outbound trunk"),
    "POST /api/follow-ups/{follow_up_id}/callback": (409, "outbound trunk"),
    "POST /api/calls/{call_id}/takeover": (502, "LiveKit"),
    "POST /api/calls/{call_id}/handback": (409, "not taken over"),
}
"""Routes whose permission passes here but whose work cannot: this API has no outbound SIP
trunk (tests/phone places real callbacks) and no LiveKit server with the call's agent in it
(tests/browser/test_supervision.py takes calls over for real)."""


def request_for(route: str, api: RunningApi, signed: dict[str, Signed]) -> tuple[str, str, dict]:
    """A valid request for `route`, on records made for it by the installation key."""
    admin = api.client()
    customer = new_customer(admin)
    ticket = admin.post("/api/tickets", json={"customer_id": customer["id"], "subject": "x"}).json()
    service = admin.post(
        "/api/services",
        json={"code": f"svc-{unique_phone()}", "name_en": "X", "name_ar": "س", "price": 1.0},
    ).json()
    call = api.client(key=None).post("/api/calls", json={"phone": unique_phone()}).json()
    db = api.db()
    try:
        crm_calls.mark_agent_joined(db, call_id=call["call_id"])  # in progress: supervisable
    finally:
        db.close()
    other = BYSTANDER[0] if route.count("operators/") else None
    key = admin.post(f"/api/operators/{other}/keys", json={"name": "k"}).json() if other else None
    quotes = admin.get("/api/quotes").json()
    db = api.db()
    try:
        follow_up = crm_follow_ups.schedule_follow_up(
            db, customer_id=customer["id"], due_at=now() + timedelta(days=1), note="call"
        )
    finally:
        db.close()
    ids = {
        "follow_up_id": follow_up["id"],
        "call_id": call["call_id"],
        "customer_id": customer["id"],
        "ticket_id": ticket["id"],
        "service_id": service["id"],
        "quote_id": quotes[0]["id"] if quotes else 0,
        "operator_id": other,
        "key_id": key["id"] if key else None,
    }
    method, path = route.split(" ", 1)
    url = path.format(**ids)
    bodies: dict[str, dict] = {
        "POST /api/calls/{call_id}/link": {"json": {"customer_id": customer["id"]}},
        "POST /api/calls/{call_id}/handback": {"json": {"summary": "sorted out"}},
        "POST /api/customers": {"json": {"name": "New", "phone": unique_phone()}},
        "PATCH /api/customers/{customer_id}": {"json": {"notes": "called"}},
        "POST /api/customers/{customer_id}/verification-code": {"json": {}},
        "POST /api/tickets": {"json": {"customer_id": customer["id"], "subject": "y"}},
        "POST /api/tickets/{ticket_id}/status": {"json": {"status": "in_progress"}},
        "PUT /api/services": {
            "json": [
                {k: s[k] for k in ("code", "name_en", "name_ar", "price", "currency", "unit")}
                for s in admin.get("/api/services").json()
            ]
        },
        "POST /api/services": {
            "json": {"code": f"n-{unique_phone()}", "name_en": "N", "name_ar": "ن", "price": 2.0}
        },
        "PATCH /api/services/{service_id}": {"json": {"price": 3.0}},
        "GET /api/customers/lookup": {"params": {"phone": customer["phone"]}},
        "POST /api/operators": {
            "json": {
                "login": f"op{unique_phone()}",
                "name": "N",
                "role": "agent",
                "password": "long-enough-pass",
            }
        },
        "PATCH /api/operators/{operator_id}": {"json": {"name": "Agent One"}},
        "POST /api/operators/{operator_id}/keys": {"json": {"name": "script"}},
    }
    return method, url, bodies.get(route, {})


def test_the_table_names_every_operator_route(app_routes: list[Route]):
    guarded = {
        str(r) for r in app_routes if r.is_api and (r.method, r.path) not in PUBLIC_API_ROUTES
    }
    assert guarded == set(EXPECTED)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_may_use_exactly_its_routes(accounts, role: str):
    api, signed = accounts
    me = signed[role]
    failures = []
    for route in sorted(EXPECTED, key=lambda r: r == "DELETE /api/session"):  # sign out last
        method, url, kwargs = request_for(route, api, signed)
        response = me.send(method, url, **kwargs)
        allowed = role in EXPECTED[route]
        refused = ALLOWED_BUT_REFUSED.get(route)
        if allowed and refused and response.status_code == refused[0]:
            assert refused[1] in response.json()["error"]["message"]
        elif allowed and not response.is_success:
            failures.append(f"{role} {route}: {response.status_code} {response.text[:160]}")
        if not allowed:
            if response.status_code != 403:
                failures.append(f"{role} {route}: {response.status_code}, not 403")
            else:
                assert_error(response, 403, "forbidden")
    assert not failures, "\n".join(failures)
    # signed out by the last route: the session is over
    assert_error(me.client.get("/api/calls"), 401, "unauthorized")
    response, client = sign_in(api, f"{role}1", PASSWORD[role])
    body = response.json()
    signed[role] = Signed(role, body["operator"], client, body["csrf_token"], me.secrets)
    signed[role].secrets.append(client.cookies["ornina_session"])


def test_everyone_manages_their_own_keys_and_only_theirs(accounts):
    api, signed = accounts
    agent, supervisor = signed["agent"], signed["supervisor"]
    own = agent.send("POST", f"/api/operators/{agent.operator['id']}/keys", json={"name": "cli"})
    assert own.status_code == 201, own.text
    key = own.json()
    agent.secrets.append(key["key"])
    assert key["key"].startswith("ornina_") and key["prefix"] == key["key"][:11]
    listed = agent.send("GET", f"/api/operators/{agent.operator['id']}/keys").json()
    assert [k["id"] for k in listed][-1] == key["id"]
    assert all("key" not in k and "key_hash" not in k for k in listed)
    # the key acts with the agent's role
    by_key = api.client(key=key["key"])
    assert by_key.get("/api/tickets").status_code == 200
    assert_error(by_key.get("/api/operators"), 403, "forbidden")
    assert_error(
        supervisor.send("DELETE", f"/api/operators/{agent.operator['id']}/keys/{key['id']}"),
        403,
        "forbidden",
    )
    revoked = agent.send("DELETE", f"/api/operators/{agent.operator['id']}/keys/{key['id']}")
    assert revoked.status_code == 204
    assert_error(by_key.get("/api/tickets"), 401, "unauthorized")


def test_sessions_need_the_csrf_token_expire_and_end_with_the_account(accounts):
    api, signed = accounts
    response, client = sign_in(api, "agent1", PASSWORD["agent"])
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    csrf = response.json()["csrf_token"]
    body = {"name": "Csrf", "phone": unique_phone()}
    assert_error(client.post("/api/customers", json=body), 403, "forbidden")
    wrong = client.post("/api/customers", json=body, headers={"X-CSRF-Token": "x" * 64})
    assert_error(wrong, 403, "forbidden")
    ok = client.post("/api/customers", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201, ok.text
    assert client.get("/api/session").json()["csrf_token"] == csrf

    db = api.db()
    try:
        token = client.cookies["ornina_session"]
        db.execute(
            "UPDATE operator_sessions SET expires_at = '2000-01-01T00:00:00.000Z'"
            " WHERE token_hash = ?",
            [crm_operators.digest(token)],
        )
    finally:
        db.close()
    assert_error(client.get("/api/calls"), 401, "unauthorized")

    admin = api.client()
    temp = admin.post(
        "/api/operators",
        json={"login": "temp1", "name": "Temp", "role": "agent", "password": "temp-pass-3Xy7Qw"},
    ).json()
    response, client = sign_in(api, "temp1", "temp-pass-3Xy7Qw")
    key = admin.post(f"/api/operators/{temp['id']}/keys", json={"name": "k"}).json()["key"]
    assert admin.patch(f"/api/operators/{temp['id']}", json={"active": False}).status_code == 200
    assert_error(client.get("/api/calls"), 401, "unauthorized")
    assert_error(api.client(key=key).get("/api/calls"), 401, "unauthorized")
    again, _ = sign_in(api, "temp1", "temp-pass-3Xy7Qw")
    assert_error(again, 401, "unauthorized")


def test_the_session_cookie_is_secure_behind_https():
    env = {
        "PUBLIC_HOST": "call.example.com",
        "LIVEKIT_API_KEY": "ornina-test",
        "LIVEKIT_API_SECRET": "s" * 8 + "ecret-for-this-test-only-0123",
    }
    with running_api(env) as api:
        api.client().post(
            "/api/operators",
            json={"login": "sec1", "name": "S", "role": "agent", "password": "secure-pass-12345"},
        )
        # Caddy, on loopback, says the caller came over HTTPS
        response, _ = sign_in(
            api, "sec1", "secure-pass-12345", headers={"X-Forwarded-Proto": "https"}
        )
        assert response.status_code == 200, response.text
        assert "secure" in response.headers["set-cookie"].lower()


def test_brute_force_is_slowed_then_refused_for_that_login_and_address(accounts):
    api, _ = accounts
    api.client().post(
        "/api/operators",
        json={"login": "target1", "name": "T", "role": "agent", "password": "right-pass-98765"},
    )
    statuses, slowest = [], 0.0
    for attempt in range(7):
        started = time.monotonic()
        response, _ = sign_in(api, "target1", f"wrong-{attempt}-password")
        slowest = max(slowest, time.monotonic() - started)
        statuses.append(response.status_code)
        body = response.json()
        assert (
            body["error"]["message"] in ("wrong login or password",) or response.status_code == 429
        )
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]
    assert slowest >= 0.5  # the answers after the second failure are held back
    assert "sign-in refused: login target1 from 127.0.0.1" in api.log()  # admins can see it
    refused, _ = sign_in(api, "target1", "right-pass-98765")  # even the right one, from here
    assert_error(refused, 429, "rate_limited")
    assert int(refused.headers["Retry-After"]) > 0
    # the real operator, from another address, still signs in
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    elsewhere, _ = sign_in(api, "target1", "right-pass-98765", transport=transport)
    assert elsewhere.status_code == 200, elsewhere.text
    # no hint whether a login exists
    unknown, _ = sign_in(api, "nobody-here", "whatever-password", transport=transport)
    wrong, _ = sign_in(api, "target1", "whatever-password", transport=transport)
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()


def test_the_audit_trail_names_who_changed_what(accounts):
    api, signed = accounts
    agent, supervisor, admin = signed["agent"], signed["supervisor"], signed["admin"]
    customer = new_customer(api.client())
    ticket = agent.send(
        "POST", "/api/tickets", json={"customer_id": customer["id"], "subject": "Audit me"}
    ).json()
    agent.send("POST", f"/api/tickets/{ticket['id']}/status", json={"status": "resolved"})
    supervisor.send("PATCH", f"/api/customers/{customer['id']}", json={"notes": "VIP"})
    trail = admin.send(
        "GET", "/api/audit", params={"record_type": "ticket", "record_id": ticket["id"]}
    ).json()
    assert [(a["operator_login"], a["action"]) for a in trail] == [
        ("agent1", "ticket.status"),
        ("agent1", "ticket.create"),
    ]
    assert trail[0]["details"] == {"from": "open", "to": "resolved"}
    edits = admin.send(
        "GET", "/api/audit", params={"operator_id": supervisor.operator["id"]}
    ).json()
    assert ("customer.update", str(customer["id"])) in [
        (a["action"], a["record_id"]) for a in edits
    ]
    csv = admin.send("GET", "/api/audit.csv", params={"record_type": "ticket"})
    assert csv.status_code == 200 and "agent1,ticket.status" in csv.text.replace('"', "")
    created = admin.send("GET", "/api/audit", params={"action": "operator.create"}).json()
    assert {a["details"]["login"] for a in created} >= {"admin1", "supervisor1", "agent1"}


def test_no_password_session_or_key_in_the_log_or_the_crm(accounts):
    api, signed = accounts
    secrets = [s for account in signed.values() for s in account.secrets]
    assert len(secrets) >= 6
    log = api.log()
    crm = b"".join(path.read_bytes() for path in api.db_path.parent.glob(api.db_path.name + "*"))
    for secret in secrets:
        assert secret not in log
        assert secret.encode() not in crm
    # what the API answers about operators holds no hash either
    listed = signed["admin"].send("GET", "/api/operators").json()
    assert all(
        set(op) == {"id", "login", "name", "role", "active", "created_at", "updated_at"}
        for op in listed
    )


def test_an_admin_keeps_the_installation_administered(accounts):
    api, signed = accounts
    admin = signed["admin"]
    own = f"/api/operators/{admin.operator['id']}"
    assert_error(admin.send("PATCH", own, json={"role": "agent"}), 409, "conflict")
    assert_error(admin.send("PATCH", own, json={"active": False}), 409, "conflict")
    # through the installation key: the last active admin cannot be demoted or disabled
    key = api.client()
    others = [op for op in key.get("/api/operators").json() if op["role"] == "admin"]
    assert [op["login"] for op in others] == ["admin1"]
    assert_error(key.patch(own, json={"role": "supervisor"}), 409, "conflict")
    assert_error(key.patch(own, json={"active": False}), 409, "conflict")
    admin1 = next(op for op in key.get("/api/operators").json() if op["login"] == "admin1")
    assert (admin1["role"], admin1["active"]) == ("admin", True)


def test_a_new_password_revokes_the_keys_too(accounts):
    api, _ = accounts
    key_client = api.client()
    op = key_client.post(
        "/api/operators",
        json={"login": "leaky1", "name": "L", "role": "agent", "password": "leaky-pass-001122"},
    ).json()
    key = key_client.post(f"/api/operators/{op['id']}/keys", json={"name": "k"}).json()
    assert api.client(key=key["key"]).get("/api/calls").status_code == 200
    reset = key_client.patch(f"/api/operators/{op['id']}", json={"password": "fresh-pass-334455"})
    assert reset.status_code == 200
    assert_error(api.client(key=key["key"]).get("/api/calls"), 401, "unauthorized")
    [listed] = key_client.get(f"/api/operators/{op['id']}/keys").json()
    assert listed["revoked_at"] is not None


def test_a_burst_of_parallel_guesses_is_counted_as_it_arrives(accounts):
    api, _ = accounts
    api.client().post(
        "/api/operators",
        json={"login": "burst1", "name": "B", "role": "agent", "password": "burst-pass-998877"},
    )
    transport = httpx.HTTPTransport(local_address="127.0.0.3")

    def guess(n: int) -> int:
        response, _ = sign_in(api, "burst1", f"guess-{n}-wrong", transport=transport)
        return response.status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(guess, range(12)))
    assert statuses.count(401) <= 5 and statuses.count(429) >= 7, statuses
