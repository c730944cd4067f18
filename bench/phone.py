"""Phone call answer time: a real SIP client (baresip, tests/phone/sip_client.py) dials the
bundle's SIP port; INVITE sent -> the first voiced 20 ms of the greeting at the client.

Calls alternate between an Arabic line (Reception) and an English line (Sales), and between a
caller ID the CRM knows (trusted: greeted by name) and an unknown one, one after another. The
trunk asks for digest authentication (trusting caller ID needs it), as a real one would.
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path

from bench.common import bench_double, log, machine, running_bundle, summary
from tests.phone.sip_client import SipClient, silence_wav

LINES = {"+15550100": "reception:ar", "+15550101": "sales:en"}
KNOWN = "+966501119001"


def run_phone(calls: int = 20) -> dict:
    auth = ("ornina", "bench-" + secrets.token_hex(8))
    env = {
        "SIP_LINES": ",".join(f"{number}={route}" for number, route in LINES.items()),
        "SIP_TRUST_CALLER_ID": "true",
        "SIP_AUTH_USERNAME": auth[0],
        "SIP_AUTH_PASSWORD": auth[1],
    }
    samples: list[dict] = []
    with bench_double() as double, running_bundle(double, extra_env=env, phone=True) as bundle:
        created = bundle.api(
            "POST", "/api/customers", operator=True, json={"name": "Bench Caller", "phone": KNOWN}
        )
        assert created.status_code == 201, created.text
        port = int(bundle.env["SIP_PORT"])
        with tempfile.TemporaryDirectory(prefix="ornina-bench-phone-") as tmp:
            quiet = silence_wav(Path(tmp) / "quiet.wav", 6.0)
            for index in range(calls):
                line = list(LINES)[index % 2]
                number = KNOWN if index % 4 < 2 else f"+96650999{index:04d}"
                with SipClient(
                    number, audio=quiet, auth_user=auth[0], auth_password=auth[1]
                ) as client:
                    result = client.dial(f"sip:{line}@127.0.0.1:{port}", seconds=20)
                sample = {
                    "line": LINES[line],
                    "known": number == KNOWN,
                    "established": result.established,
                    "answer_ms": _ms(result.answer_time),
                    "invite_to_200_ms": _ms(result.established_at),
                }
                if not result.established:
                    sample["failure"] = f"{result.status} {result.reason}: {result.output[-400:]}"
                samples.append(sample)
                log(f"phone call {index + 1}/{calls}: {sample}")
    answered = [s for s in samples if s["answer_ms"] is not None]
    return {
        "machine": f"{machine()['cores']} cores ({machine()['cpu']})",
        "calls": calls,
        "samples": samples,
        "not_answered": len(samples) - len(answered),
        "answer_ms": summary([s["answer_ms"] for s in answered]),
        "invite_to_200_ms": summary(
            [s["invite_to_200_ms"] for s in answered if s["invite_to_200_ms"] is not None]
        ),
        "by_line": {
            route: summary([s["answer_ms"] for s in answered if s["line"] == route])
            for route in LINES.values()
        },
        "by_caller": {
            kind: summary([s["answer_ms"] for s in answered if s["known"] == (kind == "known")])
            for kind in ("known", "unknown")
        },
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)
