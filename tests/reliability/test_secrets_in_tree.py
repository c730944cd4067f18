"""No secret is ever committed: provider keys, tokens, private keys, a real LiveKit secret.

Scans every file git tracks or would add (`git ls-files --cached --others --exclude-standard`),
so a secret is caught before its first commit. The detectors are checked against samples built
at run time, so this file holds no secret-looking text of its own.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.support import PROJECT_ROOT

SECRET_NAME = "LIVEKIT_API_" + "SECRET"
# Values a committed LiveKit secret may have: empty, the dev pair's, or a reference to another.
ALLOWED_LIVEKIT_SECRETS = re.compile(r"""^(|secret|\$\{?\w+\}?|%\(ENV_\w+\)s)$""")

DETECTORS = {
    "OpenAI key": re.compile(r"(?<![\w-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
    "ElevenLabs key": re.compile(
        r"(?<!\w)sk_[0-9a-f]{40,}|ELEVEN(?:LABS)?_API_KEY\s*[=:]\s*[\"']?[A-Za-z0-9_-]{16,}"
    ),
    "JWT": re.compile(r"(?<![\w-])eyJ[A-Za-z0-9_.-]{37,}"),
    "private key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
}
LIVEKIT_SECRET = re.compile(rf"""\b{SECRET_NAME}=["']?([^\s"',;]*)""")
SECRET_VARIABLE = re.compile(
    r"^#?\s*([A-Z][A-Z0-9_]*(?:KEY|SECRET|TOKEN|PASSWORD)[A-Z0-9_]*)=(.*)$", re.MULTILINE
)


def findings(text: str) -> list[str]:
    """What looks like a secret, by kind and line (never the value: test output is logged)."""

    def line(match: re.Match[str]) -> int:
        return text.count("\n", 0, match.start()) + 1

    found = [
        f"{kind} on line {line(m)}" for kind, rx in DETECTORS.items() for m in rx.finditer(text)
    ]
    for match in LIVEKIT_SECRET.finditer(text):
        if not ALLOWED_LIVEKIT_SECRETS.match(match.group(1)):
            found.append(f"{SECRET_NAME} with a real value on line {line(match)}")
    return found


def repository_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    return [PROJECT_ROOT / name for name in listed.split("\0") if name]


@pytest.mark.parametrize(
    "sample",
    [
        "OPENAI_API_KEY=" + "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1w",
        "key = 'sk-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z'",
        "ELEVEN_API_KEY=" + "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "xi-api-key: sk_" + "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978",
        "token: eyJ" + "hbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc",
        "-----BEGIN " + "RSA PRIVATE KEY-----",
        "-----BEGIN " + "OPENSSH PRIVATE KEY-----",
        SECRET_NAME + "=Xk2p9QwErTy7uIoP4aSdFgHj",
        "export " + SECRET_NAME + '="Xk2p9QwErTy7uIoP4aSdFgHj"',
    ],
)
def test_the_detectors_catch_secrets(sample: str):
    assert findings(sample), sample


@pytest.mark.parametrize(
    "sample",
    [
        SECRET_NAME + "=",
        SECRET_NAME + "=secret",
        "export LIVEKIT_API_KEY=devkey " + SECRET_NAME + "=secret",
        SECRET_NAME + "=${" + SECRET_NAME + "}",
        SECRET_NAME + '="%(ENV_' + SECRET_NAME + ')s"',
        "OPENAI_API_KEY=",
        "-----BEGIN CERTIFICATE-----",
        "disk-usage-of-the-recordings-folder-is-fine",
        "eyJhbGciOiJIUzI1NiJ9",
    ],
)
def test_the_detectors_leave_placeholders_alone(sample: str):
    assert not findings(sample), sample


def test_no_file_in_the_repository_holds_a_secret():
    files = repository_files()
    assert len(files) > 50 and PROJECT_ROOT / "app" / "deps.py" in files
    problems = [
        f"{path.relative_to(PROJECT_ROOT)}: {finding}"
        for path in files
        if path.is_file()
        for finding in findings(path.read_bytes().decode("utf-8", errors="replace"))
    ]
    assert not problems, "\n".join(problems)


def test_the_embedded_livekit_server_only_knows_the_dev_key_pair():
    config = (PROJECT_ROOT / "config" / "livekit.yaml").read_text(encoding="utf-8")
    keys = re.search(r"^keys:\n((?:[ \t]+\S.*\n?)+)", config, re.MULTILINE)
    assert keys, "config/livekit.yaml has no keys section"
    pairs = [line.strip() for line in keys.group(1).splitlines() if line.strip()]
    assert pairs == ["devkey: secret"], pairs


def test_dot_env_is_ignored_and_untracked():
    ignored = subprocess.run(
        ["git", "check-ignore", "--quiet", "--no-index", ".env"], cwd=PROJECT_ROOT, timeout=30
    )
    assert ignored.returncode == 0, ".env is not git-ignored"
    tracked = subprocess.run(
        ["git", "ls-files", "--", ".env"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert tracked.stdout == "", ".env is tracked by git"


def test_env_example_leaves_every_key_secret_and_token_empty():
    example = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    variables = dict(SECRET_VARIABLE.findall(example))
    assert {"LIVEKIT_API_KEY", SECRET_NAME, "OPERATOR_API_KEY", "OPENAI_API_KEY"} <= set(variables)
    assert {name: value for name, value in variables.items() if value.strip()} == {}
