"""The files that package the call center agree with each other: Dockerfile, supervisord.conf,
start_all.sh, .env.example, README and .ci/run. (Docker itself cannot run on the CI machines.)"""

from __future__ import annotations

import configparser
import re
import shlex

from app.settings import Settings
from tests.support import PROJECT_ROOT

DOCKERFILE = (PROJECT_ROOT / "Dockerfile").read_text()
SUPERVISORD = (PROJECT_ROOT / "supervisord.conf").read_text()
START_ALL = (PROJECT_ROOT / "start_all.sh").read_text()
README = (PROJECT_ROOT / "README.md").read_text()


def _instructions(name: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(name + " ")]


def _supervisord() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.read_string(SUPERVISORD)
    return parser


def test_every_dockerfile_copy_source_exists():
    for args in _instructions("COPY"):
        words = shlex.split(args)
        if any(word.startswith("--from=") for word in words):
            continue
        sources = [word for word in words if not word.startswith("--")][:-1]
        assert sources, args
        for source in sources:
            assert (PROJECT_ROOT / source).exists(), f"COPY source {source} is missing"


def test_image_runs_start_all_as_a_non_root_user_with_a_readiness_healthcheck():
    users = _instructions("USER")
    assert users and users[-1] not in ("root", "0")
    assert _instructions("CMD") == ['["./start_all.sh"]']
    # the readiness of what the container runs: the API's, or a worker-only container's worker
    assert _instructions("HEALTHCHECK")[0].endswith("-m app.healthcheck")
    assert any("data" in volume for volume in _instructions("VOLUME"))
    # the model download runs after the switch to the runtime user, so the files are theirs
    assert DOCKERFILE.index("USER ") < DOCKERFILE.index("agent download-files")
    assert "github.com/livekit/livekit-server/cmd/server@v1.13.5" in DOCKERFILE


def test_start_all_runs_supervisord_with_the_project_config():
    assert "exec .venv/bin/supervisord -c supervisord.conf" in START_ALL
    assert "scripts/bootstrap.sh" in START_ALL


def test_supervisord_runs_api_agent_and_embedded_livekit_with_restarts_and_rotated_logs():
    parser = _supervisord()
    programs = {
        s.split(":", 1)[1]: dict(parser[s]) for s in parser.sections() if s.startswith("program:")
    }
    assert set(programs) == {"api", "agent", "livekit", "caddy", "redis", "sip", "telephony"}
    assert programs["api"]["command"].endswith("-m app")
    assert programs["agent"]["command"].endswith("-m agent start")
    assert programs["livekit"]["command"] == "%(here)s/scripts/run_livekit.sh"
    assert "bin/livekit-server" in (PROJECT_ROOT / "scripts" / "run_livekit.sh").read_text()
    assert programs["livekit"]["autostart"] == "%(ENV_LIVEKIT_EMBEDDED)s"
    # deployment shapes: the same file runs a core without a worker, and worker-only containers
    assert programs["api"]["autostart"] == "%(ENV_RUN_API)s"
    assert programs["agent"]["autostart"] == "%(ENV_RUN_WORKER)s"
    assert programs["caddy"]["command"] == "%(here)s/scripts/run_caddy.sh"
    assert programs["caddy"]["autostart"] == "%(ENV_PUBLIC_MODE)s"
    # the phone line: Redis and LiveKit's SIP service kept alive, the trunk provisioned once
    for name in ("redis", "sip", "telephony"):
        assert programs[name]["autostart"] == "%(ENV_PHONE_LINE)s", name
    assert programs["sip"]["command"] == "%(here)s/scripts/run_sip.sh"
    assert "bin/livekit-sip" in (PROJECT_ROOT / "scripts" / "run_sip.sh").read_text()
    assert programs["telephony"]["command"].endswith("-m app.telephony apply --wait")
    assert programs["telephony"]["autorestart"] == "unexpected"
    for name, program in programs.items():
        if name != "telephony":
            assert program["autorestart"] == "true", name
        assert program["stdout_logfile"].startswith("%(here)s/logs/"), name
        assert int(program["stdout_logfile_backups"]) > 0, name
    # the worker drains on SIGTERM: stopped after the API, before LiveKit, with a long wait
    assert programs["agent"]["stopsignal"] == "TERM"
    assert int(programs["agent"]["stopwaitsecs"]) >= 60
    priorities = {name: int(p["priority"]) for name, p in programs.items()}
    # in public mode Caddy carries every caller's connection: it stops last
    assert priorities["caddy"] < priorities["livekit"] < priorities["agent"] < priorities["api"]
    # Redis outlives the LiveKit server and the SIP service that use it
    assert priorities["redis"] < priorities["livekit"] < priorities["sip"] < priorities["agent"]
    assert (PROJECT_ROOT / "app" / "__main__.py").exists()
    assert (PROJECT_ROOT / "agent" / "__main__.py").exists()
    assert (PROJECT_ROOT / "logs").is_dir()


def test_env_example_names_every_setting_with_no_value_for_secrets():
    example = (PROJECT_ROOT / ".env.example").read_text()
    named = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    assert {field.upper() for field in Settings.model_fields} <= named
    secrets = ("LIVEKIT_API_SECRET", "OPERATOR_API_KEY", "OPENAI_API_KEY", "ELEVEN_API_KEY")
    for secret in (*secrets, "WORKER_SERVICE_KEY"):
        assert re.search(rf"^{secret}=$", example, re.MULTILINE), secret


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one():
    first_block = README.split("```")[1]
    assert "./start_all.sh" in first_block and "./run_tests.sh" in first_block
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert "exec ./run_tests.sh" in ci


def test_readme_names_every_setting():
    for field in Settings.model_fields:
        assert field.upper() in README, field


def test_the_healthcheck_reads_the_readyz_of_what_the_container_runs(monkeypatch, tmp_path):
    from app import healthcheck

    # the container's .env as start_all.sh leaves it: LiveKit and keys come at run time, so
    # the healthcheck must not need them
    env_file = tmp_path / ".env"
    env_file.write_text("LIVEKIT_URL=\nAPI_PORT=8123\nAGENT_HEALTH_URL=http://127.0.0.1:8199\n")
    monkeypatch.setenv("ORNINA_ENV_FILE", str(env_file))
    for name in ("LIVEKIT_URL", "OPERATOR_API_KEY", "API_PORT", "AGENT_HEALTH_URL", "RUN_API"):
        monkeypatch.delenv(name, raising=False)
    assert healthcheck.readyz_url() == "http://127.0.0.1:8123/readyz"
    monkeypatch.setenv("RUN_API", "false")
    assert healthcheck.readyz_url() == "http://127.0.0.1:8199/readyz"
    # nothing listens there: unhealthy, with the reason on stderr
    assert healthcheck.main() == 1
