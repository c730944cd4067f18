"""The operator dashboard in a real browser, against a real API on a CRM holding two calls: one
that ended after Ahmed transferred the caller to Sarah (a quote and a ticket came out of it),
and one in progress."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from app.crm import calls, identity, quotes, tickets
from app.routers.pages import STATIC
from tests.api.conftest import RunningApi, running_api
from tests.browser.conftest import DESKTOP, LATIN, screenshot, visible_text

STRINGS = json.loads((STATIC / "i18n.json").read_text(encoding="utf-8"))
GREETING = "أهلاً بك في أورنينا، معك أحمد من الاستقبال. كيف يمكنني مساعدتك اليوم؟"
ASK = "أريد عرض سعر لموقع إلكتروني"
REASON = "يريد عرض سعر"


@dataclass
class Crm:
    api: RunningApi
    ended: dict
    live: dict
    customer_id: int
    ticket: dict
    quote: dict
    claimed: dict
    """A call whose caller only typed a name and number, with a ticket waiting to be linked."""


@pytest.fixture(scope="module")
def crm() -> Iterator[Crm]:
    with running_api() as api:
        anon, client = api.client(key=None), api.client()
        layla = client.post("/api/customers", json={"name": "ليلى حداد", "phone": "0501112233"})
        # started by the company's website for its signed-in customer: a verified call
        ended = anon.post(
            "/api/calls",
            json={"language": "ar", "name": "ليلى حداد", "customer_id": layla.json()["id"]},
            headers={"X-Server-Key": api.server_key},
        ).json()
        live = anon.post("/api/calls", json={"language": "en", "name": "Omar"}).json()
        claimed = anon.post(
            "/api/calls", json={"language": "en", "name": "Sami", "phone": "0509990000"}
        ).json()
        db = api.db()
        try:
            call_id = ended["call_id"]
            calls.mark_agent_joined(db, call_id=call_id)
            calls.add_event(db, call_id=call_id, kind="agent_joined")
            calls.add_event(db, call_id=call_id, kind="persona_entered", persona="reception")
            turn = {"db": db, "call_id": call_id}
            calls.add_turn(**turn, role="agent", persona="reception", language="ar", text=GREETING)
            calls.add_turn(**turn, role="caller", language="ar", text=ASK)
            calls.add_event(
                db,
                call_id=call_id,
                kind="transfer",
                persona="reception",
                **{"from": "reception", "to": "sales", "reason": REASON},
            )
            calls.add_event(db, call_id=call_id, kind="persona_entered", persona="sales")
            calls.add_turn(
                **turn,
                role="agent",
                persona="sales",
                language="ar",
                text="مرحباً، معك سارة من المبيعات. سأرسل لك عرض السعر الآن.",
                e2e_latency=1.2,
                llm_ttft=0.4,
                tts_ttfb=0.3,
            )
            calls.add_turn(**turn, role="caller", language="en", text="Thanks, in English please.")
            calls.add_turn(
                **turn, role="agent", persona="sales", language="en", text="Sure.", e2e_latency=0.8
            )
            customer_id = calls.get_call(db, call_id=call_id)["customer_id"]
            quote = quotes.create_quote(
                db,
                customer_id=customer_id,
                items=[{"service_code": "website", "quantity": 1}],
                call_id=call_id,
            )
            ticket = client.post(
                "/api/tickets",
                json={"customer_id": customer_id, "subject": "متابعة العرض", "call_id": call_id},
            ).json()
            client.post(
                f"/api/tickets/{ticket['id']}/status",
                json={"status": "in_progress", "note": "اتصلنا بالعميل"},
            )
            calls.add_event(db, call_id=call_id, kind="ended", persona="sales")
            calls.end_call(db, call_id=call_id, outcome="quote sent")

            live_id = live["call_id"]
            calls.mark_agent_joined(db, call_id=live_id)
            calls.add_event(db, call_id=live_id, kind="persona_entered", persona="reception")

            claimed_id = claimed["call_id"]
            calls.mark_agent_joined(db, call_id=claimed_id)
            tickets.open_ticket(db, customer_id=None, call_id=claimed_id, subject="Printer broken")
            calls.end_call(db, call_id=claimed_id, outcome="ticket opened")
        finally:
            db.close()
        yield Crm(api, ended, live, customer_id, ticket, quote, claimed)


def signed_in(open_page: Callable[..., Page], crm: Crm, lang: str, hash_: str = "") -> Page:
    page = open_page(crm.api.base_url, viewport=DESKTOP)
    page.goto(f"/dashboard?lang={lang}{hash_}")
    page.locator("#key").fill(crm.api.operator_key)
    page.locator("#sign-in").click()
    expect(page.locator("#app")).to_be_visible()
    return page


def test_sign_in_needs_the_operator_key(open_page, crm: Crm):
    page = open_page(crm.api.base_url, viewport=DESKTOP)
    page.goto("/dashboard?lang=en")
    expect(page.locator("#signin")).to_be_visible()
    page.locator("#key").fill("not-the-key-0123456789")
    page.locator("#sign-in").click()
    expect(page.locator("#signin-error")).to_be_visible()
    expect(page.locator("#signin-error")).to_have_text(STRINGS["en"]["dash_key_wrong"])
    expect(page.locator("#sign-in")).to_be_enabled()
    expect(page.locator("#app")).to_be_hidden()

    page.locator("#key").fill(crm.api.operator_key)
    page.locator("#sign-in").click()
    expect(page.locator(f'#recent-calls tr[data-id="{crm.ended["call_id"]}"]')).to_be_visible()
    expect(page.locator(f'#live-calls tr[data-id="{crm.live["call_id"]}"]')).to_contain_text(
        STRINGS["en"]["status_active"]
    )
    # the key lives in this tab's session only: a reload stays signed in, signing out forgets it
    page.reload()
    expect(page.locator("#app")).to_be_visible()
    page.locator("#sign-out").click()
    expect(page.locator("#signin")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_live_calls_appear_without_a_reload(open_page, crm: Crm):
    page = signed_in(open_page, crm, "en")
    expect(page.locator("#live-calls")).to_be_visible()
    started = crm.api.client(key=None).post("/api/calls", json={"language": "en"}).json()
    db = crm.api.db()
    try:
        calls.mark_agent_joined(db, call_id=started["call_id"])
        row = page.locator(f'#live-calls tr[data-id="{started["call_id"]}"]')
        expect(row).to_be_visible(timeout=15_000)
        calls.end_call(db, call_id=started["call_id"], outcome="test")
        expect(row).to_have_count(0, timeout=15_000)
    finally:
        db.close()


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_a_call_shows_its_transcript_timeline_transfer_and_latency(open_page, crm: Crm, lang):
    strings = STRINGS[lang]
    page = signed_in(open_page, crm, lang, f"#call/{crm.ended['call_id']}")
    transcript = page.locator("#transcript li")
    expect(transcript).to_have_count(5)
    expect(transcript.nth(0)).to_have_attribute("dir", "rtl")
    expect(transcript.nth(0)).to_contain_text(GREETING)
    expect(transcript.nth(1)).to_have_attribute("data-role", "caller")
    expect(transcript.nth(1).locator(".who")).to_have_text(strings["dash_caller"])
    expect(transcript.nth(3)).to_have_attribute("dir", "ltr")  # the caller switched to English
    expect(transcript.nth(2).locator(".latency")).to_have_attribute("data-e2e", "1.2")
    expect(transcript.nth(2).locator(".latency")).to_contain_text(strings["dash_latency_e2e"])

    sarah = "سارة، المبيعات" if lang == "ar" else "Sarah, Sales"
    ahmed = "أحمد، الاستقبال" if lang == "ar" else "Ahmed, Reception"
    expect(page.locator("#timeline li")).to_have_text([re_start(ahmed), re_start(sarah)])
    transfer = page.locator("#transfers tbody tr")
    expect(transfer).to_have_count(1)
    expect(transfer.locator("td").nth(1)).to_have_text(ahmed)
    expect(transfer.locator("td").nth(2)).to_have_text(sarah)
    expect(transfer.locator("td").nth(3)).to_have_text(REASON)
    expect(page.locator("#events")).to_contain_text(strings["event_transfer"])
    expect(page.locator("html")).to_have_attribute("dir", "rtl" if lang == "ar" else "ltr")
    assert page.errors == []
    screenshot(page, f"dashboard-{lang}.png")


def re_start(text: str) -> re.Pattern:
    return re.compile("^" + re.escape(text))


def test_a_customer_shows_their_calls_tickets_and_quotes(open_page, crm: Crm):
    page = signed_in(open_page, crm, "en", "#customers")
    page.locator("#customer-search").fill("ليلى")
    page.locator("#customer-search").press("Enter")
    rows = page.locator("#customers tbody tr")
    expect(rows).to_have_count(1)
    rows.first.click()
    expect(page).to_have_url(f"{crm.api.base_url}/dashboard?lang=en#customer/{crm.customer_id}")
    expect(page.locator(f'#customer-calls tr[data-id="{crm.ended["call_id"]}"]')).to_be_visible()
    expect(page.locator("#customer-tickets")).to_contain_text(crm.ticket["number"])
    expect(page.locator("#customer-quotes")).to_contain_text(crm.quote["number"])
    expect(page.locator("#customer-quotes")).to_contain_text("Business website × 1")


def test_a_ticket_shows_its_status_changes_and_takes_a_new_one(open_page, crm: Crm):
    page = signed_in(open_page, crm, "en", "#tickets")
    page.locator("#ticket-status").select_option("in_progress")
    page.locator(f'#tickets tr[data-id="{crm.ticket["id"]}"]').click()
    history = page.locator("#ticket-history tbody tr")
    expect(history).to_have_count(2)
    expect(history.nth(1)).to_contain_text("Open → In progress")
    expect(history.nth(1)).to_contain_text("اتصلنا بالعميل")
    page.locator("#new-status").select_option("resolved")
    page.locator("#status-note").fill("quote accepted")
    page.locator("#status-form button[type=submit]").click()
    expect(history).to_have_count(3)
    expect(history.nth(2)).to_contain_text("In progress → Resolved")
    ticket = crm.api.client().get(f"/api/tickets/{crm.ticket['id']}").json()
    assert ticket["status"] == "resolved" and ticket["history"][-1]["note"] == "quote accepted"
    crm.api.client().post(
        f"/api/tickets/{crm.ticket['id']}/status", json={"status": "in_progress"}
    )  # as the other tests expect it


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_analytics_and_charts_count_the_calls(open_page, crm: Crm, lang: str):
    page = signed_in(open_page, crm, lang, "#analytics")
    expected = crm.api.client().get("/api/analytics/personas").json()
    figures = {row["persona"]: row for row in expected["personas"]}
    assert expected["calls"] >= 2
    assert figures["reception"]["transfers_out"] >= 1 and figures["sales"]["transfers_in"] >= 1
    assert figures["sales"]["quotes_created"] == 1 and figures["sales"]["tickets_created"] == 1

    table = page.locator("#persona-analytics")
    expect(table.locator("tbody tr")).to_have_count(8)
    sales = f"{figures['sales']['quotes_created']}"
    expect(table.locator('tr[data-id="quotes_created"] td').nth(2)).to_have_text(sales)
    for chart, field in (
        ("chart-calls", "calls_handled"),
        ("chart-transfers", "transfers_in"),
        ("chart-transfers", "transfers_out"),
        ("chart-work", "tickets_created"),
        ("chart-work", "quotes_created"),
        ("chart-latency", "turn_latency_p50"),
        ("chart-latency", "turn_latency_p90"),
    ):
        for persona, row in figures.items():
            bar = page.locator(f'#{chart} rect[data-group="{persona}"][data-series="{field}"]')
            value = "" if row[field] is None else f"{row[field]:g}"
            expect(bar).to_have_attribute("data-value", value)
    if lang == "ar":
        text = visible_text(page)
        assert not LATIN.findall(text), f"Latin letters on the Arabic analytics: {text!r}"
    assert page.errors == []
    screenshot(page, f"dashboard-{lang}-analytics.png")

    # a range without calls empties the figures; a reversed one is refused with a message
    page.locator("#since").fill("2001-01-01")
    page.locator("#until").fill("2001-01-31")
    page.locator("form.toolbar button.primary").click()
    expect(page.locator('#chart-calls rect[data-group="reception"]')).to_have_attribute(
        "data-value", "0"
    )
    page.locator("#since").fill("2001-02-01")
    page.locator("form.toolbar button.primary").click()
    expect(page.locator("#view-error")).to_be_visible()


def test_csv_exports_download(open_page, crm: Crm):
    page = signed_in(open_page, crm, "en", "#analytics")
    with page.expect_download() as download:
        page.locator("#export-calls").click()
    assert download.value.suggested_filename == "ornina-calls.csv"
    text = open(download.value.path(), encoding="utf-8-sig").read()
    assert text.splitlines()[0].startswith("id,created_at,")
    assert "ليلى حداد" in text and "reception > sales" in text
    with page.expect_download() as download:
        page.locator("#export-analytics").click()
    rows = open(download.value.path(), encoding="utf-8-sig").read().splitlines()
    assert rows[0].startswith("persona,name,department,calls_handled")
    assert [row.split(",")[0] for row in rows[1:]] == ["reception", "sales", "complaints"]


def test_identity_levels_show_and_an_operator_links_an_unverified_call(open_page, crm: Crm):
    strings = STRINGS["en"]
    page = signed_in(open_page, crm, "en")
    verified = page.locator(f'#recent-calls tr[data-id="{crm.ended["call_id"]}"] [data-identity]')
    expect(verified).to_have_attribute("data-identity", "verified")
    expect(verified).to_contain_text(strings["identity_method_trusted_token"])
    waiting = page.locator(f'#unlinked-calls tr[data-id="{crm.claimed["call_id"]}"]')
    expect(waiting).to_contain_text("Sami")
    expect(waiting).to_contain_text("1 tickets · 0 quotes · 0 follow-ups")
    screenshot(page, "dashboard-identity-en.png")
    waiting.click()

    expect(page.locator("[data-identity]").first).to_have_text(strings["identity_claimed"])
    page.locator("#link-customer").fill(str(crm.customer_id))
    page.locator("#link-form button[type=submit]").click()
    expect(page.locator("#link-form")).to_have_count(0)
    expect(page.locator("#events")).to_contain_text(strings["event_linked"])
    client = crm.api.client()
    assert client.get(f"/api/calls/{crm.claimed['call_id']}").json()["customer_id"] == (
        crm.customer_id
    )
    linked = client.get("/api/tickets", params={"customer_id": crm.customer_id}).json()
    assert "Printer broken" in [t["subject"] for t in linked]
    assert page.errors == []


def test_an_operator_gives_a_customer_a_code_that_verifies_a_call(open_page, crm: Crm):
    page = signed_in(open_page, crm, "ar", f"#customer/{crm.customer_id}")
    page.locator("#new-code").click()
    code = page.locator("#verification-code .code")
    expect(code).to_have_text(re.compile(r"^\d{6}$"))
    db = crm.api.db()
    try:
        call = calls.create_call(db, room="code-check", language="ar", department="reception")
        result = identity.verify_code(
            db, call_id=call["id"], phone="0501112233", code=code.inner_text(), region="SA"
        )
    finally:
        db.close()
    assert result.result == "verified" and result.customer_id == crm.customer_id
    assert page.errors == []


def test_phone_calls_show_their_channel_and_a_ticket_offers_a_callback(open_page, crm: Crm):
    db = crm.api.db()
    try:
        phone = calls.create_call(
            db,
            room="phone_+966501112233_x",
            language="ar",
            department="reception",
            caller_phone="+966501112233",
            channel="phone",
            dialled_number="+15550100",
        )
        calls.end_call(db, call_id=phone["id"], outcome="caller_hung_up")
    finally:
        db.close()
    page = signed_in(open_page, crm, "en", "#calls")
    row = page.locator(f'#recent-calls tr[data-id="{phone["id"]}"]')
    expect(row.locator('[data-channel="phone"]')).to_have_text(STRINGS["en"]["channel_phone"])
    expect(
        page.locator(f'#recent-calls tr[data-id="{crm.ended["call_id"]}"] [data-channel="web"]')
    ).to_be_visible()
    row.click()
    expect(page.locator(".facts")).to_contain_text("+15550100")
    page.goto(f"/dashboard?lang=en#ticket/{crm.ticket['id']}")
    page.locator("#call-back").click()
    # this installation has no outbound trunk: the operator is told why
    expect(page.locator("#view-error")).to_contain_text("SIP_OUTBOUND_ADDRESS")
