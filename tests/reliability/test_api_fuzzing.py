"""Every API operation fuzzed from the app's own OpenAPI spec with schemathesis, against a real
API process: no 5xx, and every status code, content type, header and body as the spec says.

The checks and their few documented exceptions are in `schemathesis.toml` beside this file.
Generation is deterministic (no seed, no example database), so a run repeats exactly.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.crm import calls, customers, quotes, tickets
from tests.api.conftest import SERVER_ERROR_MARKERS, RunningApi, running_api
from tests.support import PYTHON, clean_env

CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = 40  # per operation and phase
MIN_CASES = 1000
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


@pytest.fixture(scope="module")
def fuzzed_api() -> Iterator[RunningApi]:
    # The public call endpoints are rate-limited per address; the fuzzer is one address.
    with running_api({"CALLS_RATE_LIMIT_PER_MINUTE": "100000"}) as api:
        seed(api)
        yield api


def seed(api: RunningApi) -> None:
    """A few records of every kind, so operations on ids reach past "404 not found"."""
    db = api.db()
    try:
        for i in range(3):
            customer = customers.create_customer(
                db, name=f"Seed {i}", phone=f"0561{i:06d}", email=f"seed{i}@example.com"
            )
            call = calls.create_call(
                db,
                room=f"seed-{i}",
                language="en",
                department="sales",
                customer_id=customer["id"],
                identity_method="trusted_token",
            )
            calls.add_event(db, call_id=call["id"], kind="persona_entered", persona="sales")
            calls.add_turn(db, call_id=call["id"], role="agent", text="Hello", e2e_latency=0.9)
            tickets.open_ticket(
                db, customer_id=customer["id"], subject=f"Seed {i}", call_id=call["id"]
            )
            quotes.create_quote(
                db, customer_id=customer["id"], items=[{"service_code": "website", "quantity": 1}]
            )
            calls.end_call(db, call_id=call["id"], outcome="quoted")
    finally:
        db.close()


def test_every_operation_conforms_to_the_spec_under_fuzzing(fuzzed_api: RunningApi, tmp_path: Path):
    spec = httpx.get(f"{fuzzed_api.base_url}/openapi.json", timeout=10).json()
    operations = [
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS
    ]
    report_path = tmp_path / "schemathesis.json"
    log_start = len(fuzzed_api.log())

    result = subprocess.run(
        [
            PYTHON,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(CONFIG),
            "run",
            f"{fuzzed_api.base_url}/openapi.json",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--generation-deterministic",
            "--workers",
            "1",
            "--no-color",
            "--report",
            "json",
            "--report-json-path",
            str(report_path),
        ],
        cwd=tmp_path,  # schemathesis leaves nothing in the repository
        env=clean_env(
            OPERATOR_API_KEY=fuzzed_api.operator_key, WORKER_SERVICE_KEY=fuzzed_api.service_key
        ),
        capture_output=True,
        text=True,
        timeout=600,
    )

    output = result.stdout[-30_000:] + result.stderr[-5_000:]
    assert report_path.exists(), output
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert result.returncode == 0 and not report["failures"] and not report["errors"], output
    assert report["complete"] and report["stop_reason"] == "completed", output
    assert report["operations"]["tested"] == report["operations"]["total"] == len(operations)
    assert report["operations"]["errored"] == report["operations"]["skipped"] == 0
    print(
        f"schemathesis: {report['test_cases']['generated']} cases over {len(operations)}"
        f" operations in {report['running_time']:.1f} s"
    )
    assert report["test_cases"]["generated"] >= MIN_CASES, report["test_cases"]
    assert report["test_cases"]["errored"] == 0
    new_log = fuzzed_api.log()[log_start:]
    assert not [m for m in SERVER_ERROR_MARKERS if m in new_log], new_log[-20_000:]
    assert fuzzed_api.process.poll() is None, "the API died under fuzzing"
