"""A LiveKit multi-node cluster on loopback, for tests: one Redis, N livekit-server nodes.

    with livekit_cluster(nodes=2, name="dispatch") as cluster:
        node1, node2 = cluster.nodes
        ...  # node1.url / node2.url: ws://127.0.0.1:<port>; cluster.api_key / api_secret

Every node gets its own generated YAML (distinct HTTP, ICE/TCP and UDP ports) and shares the
Redis, which makes livekit-server run in multi-node mode: rooms are placed on any node (the
default `node_selector` is `kind: any, sort_by: random`), a client may signal through any node
(its signal is relayed to the room's node over Redis) and an agent job is offered to the node
whose registered workers have the most spare capacity (psrpc affinity), whichever node the room
lives on. On exit everything is stopped and each node's log is copied to
`test-artifacts/logs/cluster-<name>-node<i>.log`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from tests.support import PROJECT_ROOT, free_port, stop_process, wait_until

LIVEKIT_SERVER = PROJECT_ROOT / "bin" / "livekit-server"
REDIS_SERVER = "redis-server"  # as scripts/run_redis.sh runs it (from PATH)
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "logs"

API_KEY = "devkey"
API_SECRET = "secret"

UDP_PORTS_PER_NODE = 20
"""One UDP port per peer connection (each participant has up to two)."""

# Environment variables livekit-server reads as flags (they win over the config file) and
# that would silently change a node: never inherit them.
_LIVEKIT_ENV = (
    "LIVEKIT_CONFIG",
    "LIVEKIT_KEYS",
    "LIVEKIT_REGION",
    "LIVEKIT_TURN_CERT",
    "LIVEKIT_TURN_KEY",
    "NODE_IP",
    "UDP_PORT",
    "REDIS_HOST",
    "REDIS_PASSWORD",
)


@dataclass
class Node:
    index: int
    """1-based, as in the log names."""
    port: int
    tcp_port: int
    udp_range: tuple[int, int]
    config_path: Path
    log_path: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def is_ready(self) -> bool:
        """True once the node answers HTTP 200 on `/`; raises if its process exited."""
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"livekit-server node {self.index} exited:\n{self.log()[-4000:]}")
        return httpx.get(self.http_url, timeout=1).status_code == 200

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)

    def stop(self, graceful_timeout: float = 5.0, kill_timeout: float = 10.0) -> None:
        """SIGTERM: the node marks itself SHUTTING_DOWN in Redis (no new rooms) and waits for
        its participants to leave; if it is still up after `graceful_timeout`, a second SIGTERM
        forces the shutdown (participants disconnected); SIGKILL after `kill_timeout` more.
        Idempotent.

        livekit-server ignores a SIGTERM that arrives within ~100 ms of its HTTP port opening
        (it is not "running" yet; it only marks itself draining), which the second SIGTERM
        covers."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=graceful_timeout)
        except subprocess.TimeoutExpired:
            stop_process(process, timeout=kill_timeout)  # SIGTERM again (forced), then SIGKILL

    def kill(self) -> None:
        """SIGKILL, as a crash: the node stays registered in Redis until its stats go stale."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@dataclass
class Cluster:
    name: str
    nodes: list[Node]
    redis_address: str
    """host:port"""
    redis_password: str
    workdir: Path
    api_key: str = API_KEY
    api_secret: str = API_SECRET
    redis_process: subprocess.Popen | None = field(default=None, repr=False)

    def node(self, index: int) -> Node:
        """1-based."""
        return self.nodes[index - 1]

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def stop(self, graceful_timeout: float = 0.5) -> None:
        """Every node at once (SIGTERM; forced after `graceful_timeout`), then Redis."""
        for node in self.nodes:
            node.signal(signal.SIGTERM)
        deadline = time.monotonic() + graceful_timeout
        for node in self.nodes:
            if node.process is None or node.process.poll() is not None:
                continue
            try:
                node.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                stop_process(node.process)  # SIGTERM again (forced), then SIGKILL
        if self.redis_process is not None:
            stop_process(self.redis_process)


def _udp_range_free(start: int, end: int) -> bool:
    sockets: list[socket.socket] = []
    try:
        for port in range(start, end + 1):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sockets.append(sock)
            sock.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        for sock in sockets:
            sock.close()


def free_udp_ranges(count: int, size: int = UDP_PORTS_PER_NODE) -> list[tuple[int, int]]:
    """`count` non-overlapping UDP port ranges of `size` ports, each free right now (bindable on
    127.0.0.1), taken from 40000-59999 at a random offset so parallel runs rarely meet."""
    low, high = 40_000, 60_000
    slots = (high - low) // size
    first = secrets.randbelow(slots)
    ranges: list[tuple[int, int]] = []
    for step in range(slots):
        start = low + ((first + step) % slots) * size
        if _udp_range_free(start, start + size - 1):
            ranges.append((start, start + size - 1))
            if len(ranges) == count:
                return ranges
    raise RuntimeError(f"no {count} free UDP ranges of {size} ports")


def _redis_ping(port: int, password: str) -> bool:
    """AUTH + PING over RESP (no client library needed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(
            f"*2\r\n$4\r\nAUTH\r\n${len(password)}\r\n{password}\r\n*1\r\n$4\r\nPING\r\n".encode()
        )
        data = b""
        while data.count(b"\r\n") < 2:
            chunk = sock.recv(1024)
            if not chunk:
                break
            data += chunk
    return data == b"+OK\r\n+PONG\r\n"


def _start_redis(workdir: Path, port: int, password: str) -> subprocess.Popen:
    # the settings of scripts/run_redis.sh, minus persistence (a test cluster starts empty)
    config = workdir / "redis.conf"
    config.write_text(
        "bind 127.0.0.1\n"
        f"port {port}\n"
        "protected-mode yes\n"
        f"dir {workdir}\n"
        'save ""\n'
        "appendonly no\n"
        'logfile ""\n'
        "loglevel notice\n"
        f"requirepass {password}\n"
    )
    config.chmod(0o600)
    log = (workdir / "redis.log").open("wb")
    try:
        return subprocess.Popen(
            [REDIS_SERVER, str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
        )
    finally:
        log.close()


def node_config(
    *,
    port: int,
    tcp_port: int,
    udp_range: tuple[int, int],
    redis_address: str,
    redis_password: str,
    log_level: str = "info",
) -> dict:
    """The YAML body of one node: config/livekit.yaml's settings on its own ports, plus Redis."""
    return {
        "port": port,
        "bind_addresses": ["127.0.0.1"],
        "rtc": {
            "tcp_port": tcp_port,
            "port_range_start": udp_range[0],
            "port_range_end": udp_range[1],
            "use_external_ip": False,
            "node_ip": "127.0.0.1",
            "enable_loopback_candidate": True,
        },
        "redis": {"address": redis_address, "password": redis_password},
        "keys": {API_KEY: API_SECRET},
        "logging": {"level": log_level, "pion_level": "error"},
        "room": {"auto_create": True, "empty_timeout": 300, "departure_timeout": 20},
    }


def _start_node(node: Node) -> None:
    env = {key: value for key, value in os.environ.items() if key not in _LIVEKIT_ENV}
    log = node.log_path.open("wb")
    try:
        node.process = subprocess.Popen(
            [str(LIVEKIT_SERVER), "--config", str(node.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    finally:
        log.close()


@contextlib.contextmanager
def livekit_cluster(
    nodes: int = 2,
    *,
    name: str = "cluster",
    log_level: str = "info",
    ready_timeout: float = 30.0,
) -> Iterator[Cluster]:
    """Redis + `nodes` livekit-server nodes sharing it, all ready (HTTP 200) on entry.

    On exit every node is stopped (SIGTERM, forced after a few seconds), then Redis, and each
    node's log is copied to test-artifacts/logs/cluster-<name>-node<i>.log.
    """
    workdir = Path(tempfile.mkdtemp(prefix=f"ornina-cluster-{name}-"))
    workdir.chmod(0o700)
    redis_port = free_port()
    password = secrets.token_hex(16)
    cluster = Cluster(
        name=name,
        nodes=[],
        redis_address=f"127.0.0.1:{redis_port}",
        redis_password=password,
        workdir=workdir,
    )
    try:
        cluster.redis_process = _start_redis(workdir, redis_port, password)

        def redis_up() -> bool:
            if cluster.redis_process.poll() is not None:
                log = (workdir / "redis.log").read_text(errors="replace")
                raise RuntimeError(f"redis-server exited:\n{log[-4000:]}")
            return _redis_ping(redis_port, password)

        wait_until(redis_up, timeout=ready_timeout, what="redis-server")

        used: set[int] = {redis_port}
        for index, udp_range in enumerate(free_udp_ranges(nodes), start=1):
            port = free_port()
            while port in used:
                port = free_port()
            used.add(port)
            tcp_port = free_port()
            while tcp_port in used:
                tcp_port = free_port()
            used.add(tcp_port)
            config_path = workdir / f"node{index}.yaml"
            config_path.write_text(
                yaml.safe_dump(
                    node_config(
                        port=port,
                        tcp_port=tcp_port,
                        udp_range=udp_range,
                        redis_address=cluster.redis_address,
                        redis_password=password,
                        log_level=log_level,
                    ),
                    sort_keys=False,
                )
            )
            config_path.chmod(0o600)
            node = Node(
                index=index,
                port=port,
                tcp_port=tcp_port,
                udp_range=udp_range,
                config_path=config_path,
                log_path=workdir / f"node{index}.log",
            )
            cluster.nodes.append(node)
            _start_node(node)

        for node in cluster.nodes:
            wait_until(
                node.is_ready, timeout=ready_timeout, what=f"livekit-server node {node.index}"
            )
        yield cluster
    finally:
        cluster.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for node in cluster.nodes:
            if node.log_path.exists():
                shutil.copy(node.log_path, ARTIFACTS / f"cluster-{name}-node{node.index}.log")
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":  # a quick manual check: python -m tests.cluster.livekit_cluster
    started = time.monotonic()
    with livekit_cluster(name="selfcheck") as running:
        print(f"ready in {time.monotonic() - started:.2f} s")
        for each in running.nodes:
            print(each.index, each.url, each.tcp_port, each.udp_range, each.log_path)
        print("redis", running.redis_address)
