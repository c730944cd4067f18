"""Public mode, as a caller on the internet meets it.

The test builds two network namespaces joined by a veth pair: a "server" host with a
non-loopback address runs the whole bundle under supervisord in public mode (PUBLIC_HOST set to
that address: Caddy with its internal CA, LiveKit's media ports open, TURN over TLS on) with the
provider double beside it; a "client" host runs Chromium, which opens https://<server>/, starts
a call with a fake microphone and hears the greeting. From the client only Caddy's ports, the
LiveKit RTC port and TURN answer; the API, the worker's health port and LiveKit's own
signalling port (proxied by Caddy) do not.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Playwright, expect
from sqlite_utils import Database

from bench.cold_start import scratch_project
from tests.browser.conftest import CHROMIUM, DESKTOP, chromium_args, screenshot, silent_wav
from tests.e2e.bundle import ARTIFACTS, Bundle, start_bundle
from tests.provider_double.client import ProviderDouble
from tests.support import PYTHON, wait_until

GREETING = "Welcome to Ornina, this is Ahmed at Reception."
TURN_TLS_PORT = 5349
RATE_LIMIT = 4
CALL_TIMEOUT_MS = 60_000


@dataclass
class Network:
    server: str
    client: str
    server_ip: str
    client_ip: str

    def run(self, namespace: str, *command: str, timeout: float = 60, check: bool = True) -> str:
        result = subprocess.run(
            ["ip", "netns", "exec", namespace, *command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )
        return result.stdout


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@contextlib.contextmanager
def two_hosts(third_octet_base: int = 0) -> Iterator[Network]:
    """Two hosts of our own on one link: 10.N.M.1 (server) and 10.N.M.2 (client)."""
    tag = secrets.token_hex(3)
    subnet = int(tag, 16) % 250
    second = 213 + third_octet_base
    net = Network(
        f"orn-srv-{tag}", f"orn-cli-{tag}", f"10.{second}.{subnet}.1", f"10.{second}.{subnet}.2"
    )
    veth_server, veth_client = f"ors{tag}", f"orc{tag}"
    ip("netns", "add", net.server)
    try:
        ip("netns", "add", net.client)
        ip("link", "add", veth_server, "type", "veth", "peer", "name", veth_client)
        ip("link", "set", veth_server, "netns", net.server)
        ip("link", "set", veth_client, "netns", net.client)
        for namespace, device, address in (
            (net.server, veth_server, net.server_ip),
            (net.client, veth_client, net.client_ip),
        ):
            ip("-n", namespace, "addr", "add", f"{address}/24", "dev", device)
            ip("-n", namespace, "link", "set", device, "up")
            ip("-n", namespace, "link", "set", "lo", "up")
        yield net
    finally:
        for namespace in (net.client, net.server):
            subprocess.run(["ip", "netns", "delete", namespace], capture_output=True)


@pytest.fixture(scope="module")
def network() -> Iterator[Network]:
    with two_hosts() as net:
        yield net


def wrapper(directory: Path, name: str, namespace: str, program: str) -> Path:
    """An executable that runs `program` inside `namespace` (for Playwright and the double)."""
    path = directory / name
    path.write_text(f'#!/bin/sh\nexec ip netns exec {namespace} {program} "$@"\n')
    path.chmod(0o755)
    return path


@pytest.fixture(scope="module")
def tools() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="ornina-public-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="module")
def public_bundle(network: Network, tools: Path) -> Iterator[Bundle]:
    server_python = wrapper(tools, "python-on-server", network.server, PYTHON)
    with ProviderDouble(python=str(server_python)) as double:
        env = {
            "PUBLIC_MODE": "true",
            "PUBLIC_HOST": network.server_ip,
            "PUBLIC_TURN_TLS_PORT": str(TURN_TLS_PORT),
            "LIVEKIT_API_KEY": "ornina-public-test",
            "LIVEKIT_API_SECRET": secrets.token_urlsafe(32),
            "CALLS_RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT),
        }
        bundle = start_bundle(
            double.base_url, extra_env=env, prefix=("ip", "netns", "exec", network.server)
        )
        try:
            ready_url = f"{bundle.api_url}/readyz"
            probe = (
                "import httpx, sys; sys.exit(httpx.get(sys.argv[1], timeout=2).status_code != 200)"
            )

            def ready() -> bool:
                if bundle.process is not None and bundle.process.poll() is not None:
                    raise RuntimeError("supervisord exited")
                done = subprocess.run(
                    ["ip", "netns", "exec", network.server, PYTHON, "-c", probe, ready_url],
                    capture_output=True,
                )
                return done.returncode == 0

            wait_until(ready, timeout=180, interval=0.5, what="the public bundle to be ready")
            wait_until(
                lambda: any((bundle.root / "data" / "caddy" / "certificates").rglob("*.crt")),
                timeout=60,
                what="Caddy's certificate",
            )
            yield bundle
        finally:
            bundle.stop()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            for log in (bundle.root / "logs").glob("*.log"):
                shutil.copy(log, ARTIFACTS / f"public-{log.name}")
            shutil.rmtree(bundle.root, ignore_errors=True)


def spki(bundle: Bundle, host: str) -> str:
    """The base64 SHA-256 of the public key of Caddy's certificate for `host`."""
    [cert] = (bundle.root / "data" / "caddy" / "certificates").rglob(f"{host}.crt")
    key = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-pubkey", "-noout"], capture_output=True, check=True
    ).stdout
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "der"], input=key, capture_output=True, check=True
    ).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def test_a_caller_on_another_host_calls_over_https_and_hears_the_greeting(
    public_bundle: Bundle, network: Network, tools: Path, playwright: Playwright
):
    chromium = wrapper(tools, "chromium-on-client", network.client, CHROMIUM)
    fake_microphone = silent_wav(tools / "silence.wav")
    # Caddy's internal CA is not one the browser knows: the errors of the server's own
    # certificate (its public key) are ignored, no other
    args = [
        *chromium_args(fake_microphone),
        f"--ignore-certificate-errors-spki-list={spki(public_bundle, network.server_ip)}",
    ]
    browser = playwright.chromium.launch(executable_path=str(chromium), headless=True, args=args)
    try:
        context = browser.new_context(permissions=["microphone"], viewport=DESKTOP)
        page = context.new_page()
        page.set_default_timeout(CALL_TIMEOUT_MS)
        origin = f"https://{network.server_ip}"
        page.goto(f"{origin}/?lang=en")
        with page.expect_response("**/api/calls") as response:
            page.locator("#start").click()
        started = response.value.json()
        assert started["livekit_url"] == f"wss://{network.server_ip}"
        call = page.locator("#call")
        expect(call).to_have_attribute("data-state", "in-call")
        greeting = page.locator('#captions li[data-role="agent"]').first
        expect(greeting).to_contain_text(GREETING)
        expect(call).to_have_attribute("data-heard-agent", "true")  # audio, not only captions
        screenshot(page, "public-mode-call.png")
        env = public_bundle.env
        for secret in (env["LIVEKIT_API_SECRET"], env["OPERATOR_API_KEY"]):
            assert secret not in page.content() and secret not in json.dumps(started)
        page.locator("#hangup").click()
    finally:
        browser.close()

    db = Database(public_bundle.root / "data" / "crm.sqlite3")
    try:
        row = db.execute(
            "SELECT status, agent_joined_at FROM calls WHERE id = ?", [started["call_id"]]
        ).fetchone()
        turns = [
            r[0]
            for r in db.execute(
                "SELECT text FROM transcript_turns WHERE call_id = ? AND role = 'agent'",
                [started["call_id"]],
            ).fetchall()
        ]
    finally:
        db.close()
    assert row is not None and row[1] is not None
    assert turns and turns[0].startswith(GREETING)


def test_from_outside_only_https_media_and_turn_answer(public_bundle: Bundle, network: Network):
    env = public_bundle.env
    out = network.run(
        network.client,
        PYTHON,
        "-m",
        "tests.browser.public_probe",
        network.server_ip,
        f"tls:{TURN_TLS_PORT}",
        timeout=180,
    )
    seen = json.loads(out)
    # of all 65,535 TCP ports: Caddy (HTTPS, and HTTP for the redirect), LiveKit's ICE/TCP
    # port and TURN/TLS. Not the API, the worker's health port, LiveKit's own signalling port
    # (reached only through Caddy) or Caddy's admin API.
    assert seen["listening"] == sorted([80, 443, int(env["LIVEKIT_RTC_TCP_PORT"]), TURN_TLS_PORT])
    assert seen["tls"] == {str(TURN_TLS_PORT): True}
    # plain HTTP sends the browser to HTTPS; the call start names LiveKit on the public origin
    assert seen["http"]["status"] in (301, 308)
    assert seen["http"]["location"] == f"https://{network.server_ip}/"
    assert seen["call"]["status"] == 201
    body = json.dumps(seen["call"]["body"])
    assert seen["call"]["body"]["livekit_url"] == f"wss://{network.server_ip}"
    assert env["LIVEKIT_API_SECRET"] not in body and env["OPERATOR_API_KEY"] not in body
    # no worker on another machine is configured: LiveKit's /twirp (and /agent) stay inside,
    # and the path reaches the API, which knows no such route
    assert seen["twirp"]["status"] == 404, seen["twirp"]
    assert '"error"' in seen["twirp"]["body"], seen["twirp"]


def test_the_call_limit_counts_each_caller_not_the_proxy(public_bundle: Bundle, network: Network):
    """Every request reaches the API from Caddy on loopback; the limit must still see callers."""

    def burst(namespace: str, count: int) -> list[int]:
        out = network.run(
            namespace,
            PYTHON,
            "-m",
            "tests.browser.public_probe",
            network.server_ip,
            "--calls",
            str(count),
        )
        return json.loads(out)

    from_client = burst(network.client, RATE_LIMIT + 1)
    assert 429 in from_client, from_client
    assert burst(network.server, 1) == [201]  # another address: its own limit


def test_start_all_in_public_mode_makes_its_keys_and_serves_only_https_and_media():
    """The command a person runs on a VPS, `PUBLIC_HOST=... ./start_all.sh`, on a fresh copy of
    the project (the installed venv and LiveKit build reused): it writes a LiveKit key pair and
    an operator key into a private .env, runs Caddy beside the other programs, keeps the API on
    loopback, and leaves the phone line off until it has digest authentication."""
    with two_hosts(third_octet_base=1) as net:
        root = scratch_project()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("OPENAI_", "ELEVEN_", "LIVEKIT_", "PUBLIC_", "VIRTUAL_ENV"))
        }
        env.update(
            ORNINA_ENV_FILE=str(root / ".env"),
            CRM_DB_PATH=str(root / "data" / "crm.sqlite3"),
            PUBLIC_HOST=net.server_ip,
        )
        log = root / "start_all.out"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                ["ip", "netns", "exec", net.server, "bash", str(root / "start_all.sh")],
                cwd=root,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:

            def ready() -> bool:
                if process.poll() is not None:
                    raise RuntimeError(f"start_all.sh exited: {log.read_text()}")
                status = (
                    net.run(
                        net.server,
                        str(root / ".venv/bin/supervisorctl"),
                        "-c",
                        str(root / "supervisord.conf"),
                        "status",
                        timeout=30,
                        check=False,  # exit 3 while any program (the phone line's) is stopped
                    )
                    if (root / "logs" / "supervisor.sock").exists()
                    else ""
                )
                running = {line.split()[0] for line in status.splitlines() if "RUNNING" in line}
                # the phone line stays off in public mode without digest authentication
                return running == {"api", "agent", "livekit", "caddy"} and all(
                    f"{name} " in status and "STOPPED" in status.split(f"{name} ", 1)[1][:40]
                    for name in ("redis", "sip", "telephony")
                )

            wait_until(ready, timeout=120, interval=0.5, what="start_all.sh's four programs")
            dotenv = (root / ".env").read_text()
            assert (root / ".env").stat().st_mode & 0o777 == 0o600
            values = dict(
                line.split("=", 1) for line in dotenv.splitlines() if "=" in line and line[0] != "#"
            )
            assert values["LIVEKIT_API_KEY"].startswith("ornina-")
            assert len(values["LIVEKIT_API_SECRET"]) >= 32
            assert len(values["OPERATOR_API_KEY"]) >= 16
            assert f"https://{net.server_ip}/" in log.read_text()
            # a fresh install says how to create the first admin account
            assert "python -m app.accounts create-admin" in log.read_text()
            for secret in (values["LIVEKIT_API_SECRET"], values["OPERATOR_API_KEY"]):
                assert secret not in log.read_text()

            def served() -> dict | None:
                try:
                    out = net.run(
                        net.client,
                        PYTHON,
                        "-m",
                        "tests.browser.public_probe",
                        net.server_ip,
                        timeout=180,
                    )
                except subprocess.CalledProcessError:
                    return None  # Caddy still getting its certificate
                return json.loads(out)

            seen = wait_until(served, timeout=60, interval=1, what="https on the public host")
            # HTTPS (and its redirect) and LiveKit's ICE/TCP; no SIP without digest auth
            assert seen["listening"] == [80, 443, 7881]
            assert "phone line off: in public mode it needs SIP_AUTH_USERNAME" in log.read_text()
            assert seen["call"]["status"] == 201
            assert seen["call"]["body"]["livekit_url"] == f"wss://{net.server_ip}"
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            for name in ("start_all.out", *(f"logs/{p}.log" for p in ("caddy", "api", "livekit"))):
                if (root / name).exists():
                    shutil.copy(root / name, ARTIFACTS / f"start-all-public-{Path(name).name}")
            shutil.rmtree(root, ignore_errors=True)
