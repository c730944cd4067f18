"""Settings: a missing or invalid one stops a process with one line naming it, never its value."""

from __future__ import annotations

import subprocess

import pytest

from app.settings import Settings, SettingsError, load_settings
from app.telephony.lines import line_for
from tests.support import PROJECT_ROOT, PYTHON, clean_env

OPERATOR_KEY = "op-key-Zq9W7xT4uM2nB6vK"
SECRET = "lk-secret-Hy3Rf8Pq1Lm5"

VALID = {
    "LIVEKIT_URL": "ws://127.0.0.1:7880",
    "LIVEKIT_API_KEY": "APIabc123",
    "LIVEKIT_API_SECRET": SECRET,
    "OPERATOR_API_KEY": OPERATOR_KEY,
}


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets counts: no settings from the shell running the tests."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def load(monkeypatch: pytest.MonkeyPatch, **env: str | None) -> Settings:
    for name, value in {**VALID, **env}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return load_settings(_env_file=None)


def refusal(monkeypatch: pytest.MonkeyPatch, **env: str | None) -> str:
    with pytest.raises(SettingsError) as raised:
        load(monkeypatch, **env)
    message = str(raised.value)
    assert "\n" not in message, message
    assert SECRET not in message and OPERATOR_KEY not in message, message
    return message


def test_valid_settings_and_defaults(monkeypatch: pytest.MonkeyPatch):
    settings = load(monkeypatch)
    assert settings.agent_name == "ornina-agent"
    assert settings.default_language == "ar"
    assert settings.livekit_http_url == "http://127.0.0.1:7880"
    assert settings.missing_provider_keys() == ["OPENAI_API_KEY", "ELEVEN_API_KEY"]
    assert SECRET not in repr(settings) and OPERATOR_KEY not in repr(settings)
    assert SECRET not in str(settings.model_dump())


@pytest.mark.parametrize("cores", [1, 2, 16])
def test_calls_per_worker_follow_the_cores(monkeypatch: pytest.MonkeyPatch, cores: int):
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    assert load(monkeypatch).agent_max_concurrent_calls == 3 * cores
    assert load(monkeypatch, AGENT_MAX_CONCURRENT_CALLS="40").agent_max_concurrent_calls == 40


def test_provider_keys_and_urls(monkeypatch: pytest.MonkeyPatch):
    settings = load(
        monkeypatch,
        LIVEKIT_URL="wss://lk.example.com",
        OPENAI_API_KEY="",
        OPENAI_BASE_URL="http://127.0.0.1:9000/v1/",
        ELEVEN_API_KEY="el-key",
    )
    assert settings.livekit_http_url == "https://lk.example.com"
    assert settings.openai_api_key is None
    assert settings.openai_base_url == "http://127.0.0.1:9000/v1"
    assert settings.missing_provider_keys() == []


@pytest.mark.parametrize(
    "name", ["LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "OPERATOR_API_KEY"]
)
def test_a_missing_setting_is_named(monkeypatch: pytest.MonkeyPatch, name: str):
    assert refusal(monkeypatch, **{name: None}).startswith(f"setting {name} is missing")


@pytest.mark.parametrize(
    "name, value",
    [
        ("LIVEKIT_URL", "ftp://lk.example.com"),
        ("LIVEKIT_URL", ""),
        ("AGENT_NAME", "bad name!"),
        ("AGENT_HEALTH_URL", "ws://127.0.0.1:8081"),
        ("OPENAI_BASE_URL", "not a url"),
        ("OPERATOR_API_KEY", "short-" + OPERATOR_KEY[:5]),
        ("DEFAULT_LANGUAGE", "fr"),
        ("PHONE_DEFAULT_REGION", "sa"),
        ("CALLS_RATE_LIMIT_PER_MINUTE", "0"),
        ("CALLS_RATE_LIMIT_PER_MINUTE", "lots"),
        ("API_PORT", "70000"),
        ("API_PORT", "http"),
        ("SIP_LINES", "+15550100,call-me"),
        ("SIP_LINES", "+15550100=billing"),
        ("SIP_LINES", "+15550100=sales:fr"),
        ("SIP_LINES", "+15550100,+15550100=sales"),
        ("SIP_ALLOWED_ADDRESSES", "127.0.0.1/32,provider.example.com"),
        ("SIP_TRANSFER_TO", "desk@pbx.example.com"),
        ("SIP_OUTBOUND_ADDRESS", "sip://pbx.example.com"),
        ("SIP_PORT", "0"),
        ("SIP_LINES", " , "),
        ("SIP_OUTBOUND_NUMBER", "5550100"),
    ],
)
def test_an_invalid_setting_is_named(monkeypatch: pytest.MonkeyPatch, name: str, value: str):
    message = refusal(monkeypatch, **{name: value})
    assert message.startswith(f"setting {name} is invalid: "), message
    if len(value) > 4:
        assert value not in message


@pytest.mark.parametrize(
    "url", ["wss://lk.example.com", "ws://10.0.0.5:7880", "https://livekit.ornina.sa"]
)
def test_the_dev_key_pair_is_refused_off_loopback(monkeypatch: pytest.MonkeyPatch, url: str):
    message = refusal(
        monkeypatch, LIVEKIT_URL=url, LIVEKIT_API_KEY="devkey", LIVEKIT_API_SECRET="secret"
    )
    assert "LIVEKIT_API_KEY" in message and "loopback" in message


@pytest.mark.parametrize(
    "url", ["ws://127.0.0.1:7880", "ws://localhost:7880", "ws://[::1]:7880", "http://127.0.0.2"]
)
def test_the_dev_key_pair_is_fine_on_loopback(monkeypatch: pytest.MonkeyPatch, url: str):
    settings = load(
        monkeypatch, LIVEKIT_URL=url, LIVEKIT_API_KEY="devkey", LIVEKIT_API_SECRET="secret"
    )
    assert settings.livekit_api_key == "devkey"


@pytest.mark.parametrize(
    "placeholder", ["x" * 32, "0" * 16, "your-operator-key-here", "your_key_goes_here"]
)
def test_a_placeholder_operator_key_is_refused(monkeypatch: pytest.MonkeyPatch, placeholder: str):
    message = refusal(monkeypatch, OPERATOR_API_KEY=placeholder)
    assert "OPERATOR_API_KEY" in message and "placeholder" in message
    assert placeholder not in message


# The real entry point: `python -m app` with a bad environment.


def run_api(tmp_path, **env: str | None) -> subprocess.CompletedProcess:
    full = clean_env(
        **VALID,
        CRM_DB_PATH=str(tmp_path / "crm.sqlite3"),
        API_PORT="1",  # never reached: settings fail first
        ORNINA_ENV_FILE=str(tmp_path / "no.env"),
    )
    for name, value in env.items():
        if value is None:
            full.pop(name, None)
        else:
            full[name] = value
    return subprocess.run(
        [PYTHON, "-m", "app"],
        cwd=PROJECT_ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "env, name",
    [
        ({"LIVEKIT_URL": None}, "LIVEKIT_URL"),
        ({"OPERATOR_API_KEY": None}, "OPERATOR_API_KEY"),
        ({"OPERATOR_API_KEY": OPERATOR_KEY[:10]}, "OPERATOR_API_KEY"),
        ({"OPERATOR_API_KEY": "x" * 24}, "OPERATOR_API_KEY"),
        ({"LIVEKIT_URL": "lk.example.com"}, "LIVEKIT_URL"),
        ({"API_PORT": "eighty"}, "API_PORT"),
        ({"AGENT_NAME": "two words"}, "AGENT_NAME"),
        (
            {
                "LIVEKIT_URL": "wss://lk.example.com",
                "LIVEKIT_API_KEY": "devkey",
                "LIVEKIT_API_SECRET": "secret",
            },
            "LIVEKIT_API_KEY",
        ),
    ],
)
def test_python_m_app_stops_with_one_line(tmp_path, env: dict, name: str):
    result = run_api(tmp_path, **env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert name in lines[0]
    assert "Traceback" not in result.stderr
    output = result.stdout + result.stderr
    for secret in (SECRET, OPERATOR_KEY, OPERATOR_KEY[:10]):
        assert secret not in output
    assert not (tmp_path / "crm.sqlite3").exists()


def test_public_mode_gives_browsers_the_public_wss_origin(monkeypatch: pytest.MonkeyPatch):
    assert load(monkeypatch).browser_livekit_url == "ws://127.0.0.1:7880"
    public = load(monkeypatch, PUBLIC_HOST="call.example.com")
    assert public.browser_livekit_url == "wss://call.example.com"
    assert public.livekit_url == "ws://127.0.0.1:7880"  # the API and worker stay on loopback


@pytest.mark.parametrize("host", ["https://call.example.com", "call.example.com/x", "a b", "h:443"])
def test_public_host_is_a_bare_name_or_address(monkeypatch: pytest.MonkeyPatch, host: str):
    assert "PUBLIC_HOST" in refusal(monkeypatch, PUBLIC_HOST=host)


def test_public_mode_refuses_the_dev_key_pair(monkeypatch: pytest.MonkeyPatch):
    message = refusal(
        monkeypatch,
        PUBLIC_HOST="203.0.113.7",
        LIVEKIT_API_KEY="devkey",
        LIVEKIT_API_SECRET="secret",
    )
    assert "dev key pair" in message and "public mode" in message


def test_trusted_backend_key_is_not_the_operator_key(monkeypatch: pytest.MonkeyPatch):
    assert "TRUSTED_BACKEND_KEY" in refusal(monkeypatch, TRUSTED_BACKEND_KEY=OPERATOR_KEY)
    assert "TRUSTED_BACKEND_KEY" in refusal(monkeypatch, TRUSTED_BACKEND_KEY="short")


def test_phone_lines_route_by_number(monkeypatch: pytest.MonkeyPatch):
    settings = load(
        monkeypatch, SIP_LINES="+15550100=reception:ar, +15550101=reception:en,15550102=sales"
    )
    assert [(x.number, x.department.value, x.language) for x in settings.phone_lines] == [
        ("+15550100", "reception", "ar"),
        ("+15550101", "reception", "en"),
        ("15550102", "sales", None),
    ]
    assert line_for(settings.phone_lines, "+15550102").department.value == "sales"
    assert line_for(settings.phone_lines, "15550101").language == "en"
    assert line_for(settings.phone_lines, "+15559999") is None


@pytest.mark.parametrize(
    "env, named",
    [
        ({"SIP_AUTH_USERNAME": "ornina"}, "SIP_AUTH_USERNAME/SIP_AUTH_PASSWORD"),
        ({"SIP_AUTH_PASSWORD": "a-long-sip-password"}, "SIP_AUTH_USERNAME/SIP_AUTH_PASSWORD"),
        ({"SIP_OUTBOUND_ADDRESS": "sip.example.com:5060"}, "SIP_OUTBOUND_NUMBER"),
        ({"SIP_OUTBOUND_USERNAME": "ornina"}, "SIP_OUTBOUND_USERNAME/SIP_OUTBOUND_PASSWORD"),
        # an address allow-list can be spoofed (From header host): trust needs digest auth
        ({"SIP_TRUST_CALLER_ID": "true"}, "SIP_TRUST_CALLER_ID"),
    ],
)
def test_sip_settings_that_come_in_pairs(monkeypatch: pytest.MonkeyPatch, env: dict, named: str):
    message = refusal(monkeypatch, **env)
    assert named in message and "a-long-sip-password" not in message


def test_caller_id_is_trusted_only_with_digest_authentication(monkeypatch: pytest.MonkeyPatch):
    settings = load(
        monkeypatch,
        SIP_TRUST_CALLER_ID="true",
        SIP_AUTH_USERNAME="ornina",
        SIP_AUTH_PASSWORD="a-long-sip-password",
    )
    assert settings.sip_trust_caller_id


SERVICE_KEY = "svc-" + "k7Qz" * 10


def test_a_worker_only_container_needs_no_operator_key(monkeypatch: pytest.MonkeyPatch):
    settings = load(
        monkeypatch,
        RUN_API="false",
        OPERATOR_API_KEY=None,
        CRM_API_URL="https://core.example.com/",
        WORKER_SERVICE_KEY=SERVICE_KEY,
        LIVEKIT_URL="wss://core.example.com",
        LIVEKIT_API_KEY="APIkey",
    )
    assert settings.operator_api_key is None
    assert settings.crm_api_url == "https://core.example.com"
    assert SERVICE_KEY not in repr(settings)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CRM_API_URL": "http://127.0.0.1:8000"}, "WORKER_SERVICE_KEY"),
        ({"WORKER_SERVICE_KEY": "short"}, "WORKER_SERVICE_KEY"),
        ({"WORKER_SERVICE_KEY": "x" * 40}, "WORKER_SERVICE_KEY"),  # a placeholder
        ({"WORKER_SERVICE_KEY": OPERATOR_KEY * 3, "OPERATOR_API_KEY": OPERATOR_KEY * 3}, "differ"),
        (
            {"CRM_API_URL": "http://core.internal:8000", "WORKER_SERVICE_KEY": SERVICE_KEY},
            "CRM_API_URL",
        ),
        ({"CRM_API_URL": "ftp://core", "WORKER_SERVICE_KEY": SERVICE_KEY}, "CRM_API_URL"),
        ({"RUN_API": "false", "RUN_WORKER": "false"}, "RUN_API"),
        ({"WORKER_NAME": "bad name!"}, "WORKER_NAME"),
    ],
)
def test_worker_settings_are_checked(monkeypatch: pytest.MonkeyPatch, env: dict, named: str):
    assert named in refusal(monkeypatch, **env)


def test_plain_http_to_the_core_only_when_asked_for(monkeypatch: pytest.MonkeyPatch):
    settings = load(
        monkeypatch,
        CRM_API_URL="http://10.0.0.5:8000",
        WORKER_SERVICE_KEY=SERVICE_KEY,
        CRM_API_INSECURE="true",
    )
    assert settings.crm_api_url == "http://10.0.0.5:8000"
