"""The deployment shapes of README "Deployment shapes", as containers on loopback: each is the
real `supervisord.conf` in a scratch directory of its own (tests/e2e/bundle.py), with programs
switched on and off by settings.

- `running_core`: the API and the CRM file, no worker of its own (RUN_WORKER=false), using an
  external LiveKit server (a node of `tests.cluster.livekit_cluster`).
- `running_worker`: a worker-only container (RUN_API=false) connected to one LiveKit node, which
  reaches the CRM through the core's API with the service key. Its CRM_DB_PATH names a
  directory that does not exist, and nothing in its scratch directory leads to the core's file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil

from tests.e2e.bundle import Bundle, kept, start_bundle
from tests.support import free_port, wait_until

NO_CRM_FILE = "/nonexistent-ornina-crm/crm.sqlite3"


def service_key() -> str:
    return secrets.token_urlsafe(36)[:48]


@contextlib.contextmanager
def running_core(
    provider_url: str, *, livekit_url: str, agent_name: str, key: str, **env: str
) -> Iterator[Bundle]:
    extra = {
        "RUN_API": "true",
        "RUN_WORKER": "false",
        "LIVEKIT_EMBEDDED": "false",
        "LIVEKIT_URL": livekit_url,
        "AGENT_NAME": agent_name,
        "WORKER_SERVICE_KEY": key,
        **env,
    }
    bundle = start_bundle(provider_url, extra_env=extra)
    with kept(bundle, "cluster-core"):
        bundle.wait_ready(timeout=90)
        yield bundle


def worker_readyz(bundle: Bundle) -> httpx.Response:
    return httpx.get(bundle.env["AGENT_HEALTH_URL"] + "/readyz", timeout=2)


@contextlib.contextmanager
def running_worker(
    provider_url: str,
    *,
    name: str,
    livekit_url: str,
    core: Bundle,
    agent_name: str,
    key: str,
    max_calls: int,
) -> Iterator[Bundle]:
    extra = {
        "RUN_API": "false",
        "RUN_WORKER": "true",
        "LIVEKIT_EMBEDDED": "false",
        "LIVEKIT_URL": livekit_url,
        "AGENT_NAME": agent_name,
        "AGENT_HEALTH_URL": f"http://127.0.0.1:{free_port()}",
        "AGENT_MAX_CONCURRENT_CALLS": str(max_calls),
        "WORKER_NAME": name,
        "CRM_API_URL": core.api_url,
        "WORKER_SERVICE_KEY": key,
        "CRM_DB_PATH": NO_CRM_FILE,
        "OPERATOR_API_KEY": "",  # a worker machine holds no operator key
    }
    bundle = start_bundle(provider_url, extra_env=extra)
    with kept(bundle, f"cluster-{name}"):
        wait_until(
            lambda: worker_readyz(bundle).status_code == 200,
            timeout=90,
            interval=0.2,
            what=f"{name}'s /readyz",
        )
        yield bundle


def kill_container(bundle: Bundle) -> None:
    """`kill -9` of everything the container runs (supervisord, the worker, its job
    processes), as when its machine is lost: nothing is restarted."""
    assert bundle.process is not None
    root = psutil.Process(bundle.process.pid)
    for process in [*root.children(recursive=True), root]:
        with contextlib.suppress(psutil.NoSuchProcess):
            os.kill(process.pid, signal.SIGKILL)
    bundle.process.wait(timeout=10)
    bundle.process = None


def files_in_data(bundle: Bundle) -> list[Path]:
    """What the container wrote to its own data directory (a worker-only one: nothing)."""
    return sorted((bundle.root / "data").rglob("*"))
