"""Issue acceptance for the token endpoint: in headless Chromium, livekit-client's
`TokenSource.endpoint` pointed at `/api/token` fetches credentials, connects to the end-to-end
bundle (embedded LiveKit, API and worker under supervisord, the provider double as the cloud),
and the agent joins the room; the CRM then shows the call.

The app is the smallest LiveKit app there is: a module script, run in a document of the API's
origin, that loads the vendored `livekit-client` and does what a starter app does with a token
endpoint. Nothing of the call page (`call.js`) is involved.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import TIMEOUT_MS
from tests.e2e.bundle import Bundle
from tests.support import wait_until

# A caller is answered within seconds on an idle machine (tests/e2e/test_call.py holds the
# Python SDK caller to 5 s); this deadline leaves room for other bundles sharing the CPUs.
AGENT_JOIN_TIMEOUT_MS = 30_000
# Any document the API itself serves will do (this one is plain JSON): Chromium's Local Network
# Access checks let a page loaded from 127.0.0.1 reach the loopback LiveKit server, but not a
# page that Playwright fulfils itself (it has no address, so it counts as public).
PAGE_PATH = "/healthz"
APP = """
import { Room, RoomEvent, TokenSource } from '/static/vendor/livekit-client.esm.js';

const body = document.body;
const showAgent = (participant) => {
  if (!participant.isAgent) return;
  body.dataset.agent = participant.identity;
  body.dataset.agentPersona = participant.attributes['ornina.persona'] ?? '';
  body.dataset.agentJoinedMs ??= String(Math.round(performance.now() - window.connectedAt));
};

// What a starter app does with a token endpoint: fetch credentials, connect, wait for the agent.
window.callIn = async (endpoint, participantAttributes) => {
  const source = TokenSource.endpoint(endpoint);
  const { serverUrl, participantToken } = await source.fetch({ participantAttributes });
  const room = new Room();
  window.room = room;
  room
    .on(RoomEvent.ParticipantConnected, showAgent)
    .on(RoomEvent.ParticipantAttributesChanged, (_changed, participant) => showAgent(participant))
    .on(RoomEvent.Disconnected, () => { body.dataset.state = 'disconnected'; });
  window.connectedAt = performance.now();
  await room.connect(serverUrl, participantToken);
  body.dataset.state = 'connected';
  room.remoteParticipants.forEach(showAgent);
  return {
    serverUrl,
    room: room.name,
    identity: room.localParticipant.identity,
    attributes: room.localParticipant.attributes,
  };
};
body.dataset.state = 'ready';
"""


def test_token_source_endpoint_connects_and_the_agent_joins(open_page, bundle: Bundle):
    page = open_page(bundle.api_url, microphone=False)
    page.goto(PAGE_PATH)
    page.add_script_tag(type="module", content=APP)
    body = page.locator("body")
    expect(body).to_have_attribute("data-state", "ready")

    with page.expect_response("**/api/token") as token_response:
        joined = page.evaluate(
            "([endpoint, attributes]) => window.callIn(endpoint, attributes)",
            [bundle.api_url + "/api/token", {"language": "en", "department": "sales"}],
        )
    issued = token_response.value
    assert issued.status == 201
    assert issued.request.method == "POST"
    sent = issued.request.post_data_json
    assert sent == {"participant_attributes": {"language": "en", "department": "sales"}}
    assert joined["serverUrl"] == bundle.livekit_url
    assert joined["room"] == issued.json()["room_name"]
    assert joined["attributes"] == {"language": "en", "department": "sales"}
    expect(body).to_have_attribute("data-state", "connected")

    # the agent is dispatched into the room and joins, as Sarah (the sales department)
    expect(body).to_have_attribute("data-agent", re.compile(r".+"), timeout=AGENT_JOIN_TIMEOUT_MS)
    expect(body).to_have_attribute("data-agent-persona", "sales", timeout=TIMEOUT_MS)
    joined_ms = int(body.get_attribute("data-agent-joined-ms") or "0")
    print(f"agent joined {joined_ms} ms after connect")

    # the CRM has the call, with the department and language from the attributes
    call_id = issued.json()["call_id"]
    call = bundle.api("GET", f"/api/calls/{call_id}", operator=True).json()
    assert call["room"] == joined["room"]
    assert (call["department"], call["language"]) == ("sales", "en")
    listed = bundle.api("GET", "/api/calls", operator=True, params={"department": "sales"}).json()
    assert call_id in [row["id"] for row in listed]

    def agent_joined() -> dict | None:
        record = bundle.api("GET", f"/api/calls/{call_id}", operator=True).json()
        return record if record["agent_joined_at"] else None

    wait_until(agent_joined, timeout=30, what="the CRM to record the agent joining")

    # the app leaves; the worker closes the call
    page.evaluate("() => window.room.disconnect()")
    expect(body).to_have_attribute("data-state", "disconnected")

    def ended() -> dict | None:
        record = bundle.api("GET", f"/api/calls/{call_id}", operator=True).json()
        return record if record["status"] == "ended" else None

    record = wait_until(ended, timeout=30, what="the worker to close the call")
    assert record["personas_visited"][0] == "sales"
    assert page.errors == []  # type: ignore[attr-defined]
