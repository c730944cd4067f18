"""Fixtures for the phone-line tests: the bundle with the phone line on (its own Redis, the SIP
service, the trunk provisioned from settings), and two SIP clients that answer by themselves:
the person a caller is transferred to, and the customer a callback rings."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.e2e.bundle import Bundle, running_bundle
from tests.phone.sip_client import SipClient, silence_wav
from tests.provider_double.client import ProviderDouble

LINES = "+15550100=reception:ar,+15550101=sales:en"
ARABIC_LINE, SALES_LINE = "+15550100", "+15550101"
OUR_NUMBER = "+15550100"
CUSTOMER_NUMBER = "+966500000077"


@dataclass
class PhoneLine:
    bundle: Bundle
    auth: tuple[str, str]
    human: SipClient
    customer: SipClient

    @property
    def port(self) -> int:
        return int(self.bundle.env["SIP_PORT"])

    def uri(self, line: str) -> str:
        return f"sip:{line}@127.0.0.1:{self.port}"

    def caller(self, number: str, audio) -> SipClient:  # noqa: ANN001 - a WAV path
        user, password = self.auth
        return SipClient(number, audio=audio, auth_user=user, auth_password=password)


@pytest.fixture(scope="module")
def double() -> Iterator[ProviderDouble]:
    with ProviderDouble() as running:
        yield running


@pytest.fixture(scope="module")
def phone(double: ProviderDouble, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PhoneLine]:
    auth = ("ornina", secrets.token_urlsafe(16).replace("-", "x").replace("_", "y"))
    human = SipClient("+15550199", auto_answer=True)
    # the customer's phone answers, listens for 15 s and hangs up
    quiet = silence_wav(tmp_path_factory.mktemp("customer") / "quiet.wav", 15.0)
    customer = SipClient(CUSTOMER_NUMBER, audio=quiet, auto_answer=True)
    env = {
        "SIP_LINES": LINES,
        "SIP_AUTH_USERNAME": auth[0],
        "SIP_AUTH_PASSWORD": auth[1],
        "SIP_TRUST_CALLER_ID": "true",
        "SIP_TRANSFER_TO": human.uri,
        "SIP_OUTBOUND_ADDRESS": f"127.0.0.1:{customer.port}",
        "SIP_OUTBOUND_NUMBER": OUR_NUMBER,
        "PHONE_DEFAULT_REGION": "SA",
    }
    human.start()
    customer.start()
    try:
        with running_bundle(double.base_url, "phone-line", extra_env=env, phone=True) as bundle:
            yield PhoneLine(bundle=bundle, auth=auth, human=human, customer=customer)
    finally:
        human.stop()
        customer.stop()
        human.close()
        customer.close()


@pytest.fixture(autouse=True)
def _fresh_double(request: pytest.FixtureRequest) -> None:
    if "double" in request.fixturenames:
        request.getfixturevalue("double").reset()
