"""The CRM file survives what a production box does to it: the worker killed with SIGKILL in the
middle of its writes, again and again, and the API and the worker writing at once under load.

The worker side is `tests/reliability/crash_writer.py`: the recorder's own write path (CallCrm +
the store's add_event/add_turn) in a tight loop, printing each turn id after its commit."""

from __future__ import annotations

import os
import random
import re
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from app.crm import calls as crm_calls
from app.crm import connect, open_crm
from tests.api.conftest import RunningApi, running_api, unique_phone
from tests.support import PROJECT_ROOT, PYTHON, clean_env

ROUNDS = 20
SEED = 20_260_917
LOCKED = re.compile(r"database is (locked|busy)", re.IGNORECASE)
WRITE_FAILED = ("CRM write failed", "Traceback")


@dataclass
class Writer:
    """A crash_writer child process, with the committed turn ids it has reported so far."""

    process: subprocess.Popen
    ids: list[int] = field(default_factory=list)
    rest: bytes = b""

    def read_ids(self, count: int, timeout: float = 30.0) -> None:
        """Read stdout until at least `count` ids have been reported."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while len(self.ids) < count:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"the writer reported {len(self.ids)} of {count} ids"
                if not selector.select(timeout=remaining):
                    continue
                data = os.read(self.process.stdout.fileno(), 65536)
                assert data, f"the writer exited early:\n{self.stderr()}"
                self._take(data)

    def read_to_end(self) -> None:
        """Every id until the process closes its stdout (complete lines only)."""
        assert self.process.stdout is not None
        while data := os.read(self.process.stdout.fileno(), 65536):
            self._take(data)

    def _take(self, data: bytes) -> None:
        lines = (self.rest + data).split(b"\n")
        self.rest = lines.pop()  # a line cut short by the kill is not a report
        self.ids += [int(line) for line in lines if line.strip().isdigit()]

    def stderr(self) -> str:
        assert self.process.stderr is not None
        return self.process.stderr.read().decode(errors="replace")


def start_writer(crm_path: Path, call_id: int) -> Writer:
    process = subprocess.Popen(
        [PYTHON, "-m", "tests.reliability.crash_writer", str(crm_path), str(call_id)],
        cwd=PROJECT_ROOT,
        env=clean_env(PYTHONUNBUFFERED="1"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    return Writer(process)


@contextmanager
def writer_process(crm_path: Path, call_id: int) -> Iterator[Writer]:
    writer = start_writer(crm_path, call_id)
    try:
        yield writer
    finally:
        if writer.process.poll() is None:
            writer.process.kill()
        writer.process.wait(timeout=10)
        for stream in (writer.process.stdout, writer.process.stderr):
            if stream is not None:
                stream.close()


def integrity(crm_path: Path) -> list[str]:
    db = connect(crm_path)  # a fresh connection recovers the WAL as the next process would
    try:
        return [row[0] for row in db.conn.execute("PRAGMA integrity_check").fetchall()]
    finally:
        db.conn.close()


def turn_ids(crm_path: Path, call_id: int) -> set[int]:
    db = connect(crm_path)
    try:
        rows = db.conn.execute("SELECT id FROM transcript_turns WHERE call_id = ?", [call_id])
        return {row[0] for row in rows}
    finally:
        db.conn.close()


def test_worker_killed_mid_write_twenty_times_loses_no_committed_turn(tmp_path: Path):
    crm_path = tmp_path / "crm.sqlite3"
    db = open_crm(crm_path)
    call = crm_calls.create_call(db, room="call-crash", language="ar", department="reception")
    db.conn.close()

    rng = random.Random(SEED)
    committed: list[int] = []
    for round_number in range(ROUNDS):
        kill_after = rng.randint(1, 120)
        with writer_process(crm_path, call["id"]) as writer:
            writer.read_ids(kill_after)
            writer.process.send_signal(signal.SIGKILL)
            writer.process.wait(timeout=10)
            assert writer.process.returncode == -signal.SIGKILL
            writer.read_to_end()
        committed += writer.ids
        assert integrity(crm_path) == ["ok"], f"round {round_number}"
        assert set(writer.ids) <= turn_ids(crm_path, call["id"]), f"round {round_number}"

    stored = turn_ids(crm_path, call["id"])
    assert len(committed) == len(set(committed)) >= ROUNDS
    assert set(committed) <= stored
    # at most one turn per round was committed but killed before its id was printed
    assert len(stored - set(committed)) <= ROUNDS
    assert integrity(crm_path) == ["ok"]
    # and the file still takes writes from the next process
    db = open_crm(crm_path)
    try:
        crm_calls.end_call(db, call_id=call["id"], outcome="caller_hung_up")
        assert crm_calls.get_call(db, call_id=call["id"])["status"] == "ended"
    finally:
        db.conn.close()


THREADS = 8
CUSTOMERS_PER_THREAD = 20


def hammer(api: RunningApi, thread: int) -> tuple[list[dict], list[dict], list[str]]:
    """One operator's burst of writes: customers, each with a ticket."""
    customers, tickets, failures = [], [], []
    with httpx.Client(
        base_url=api.base_url, headers={"X-API-Key": api.operator_key}, timeout=60.0
    ) as client:
        for i in range(CUSTOMERS_PER_THREAD):
            try:
                created = client.post(
                    "/api/customers",
                    json={"name": f"Load Test {thread}-{i}", "phone": unique_phone()},
                )
                if created.status_code != 201:
                    failures.append(f"customer: {created.status_code} {created.text[:200]}")
                    continue
                customers.append(created.json())
                ticket = client.post(
                    "/api/tickets",
                    json={
                        "customer_id": created.json()["id"],
                        "subject": f"load test {thread}-{i}",
                        "category": "technical",
                    },
                )
                if ticket.status_code != 201:
                    failures.append(f"ticket: {ticket.status_code} {ticket.text[:200]}")
                    continue
                tickets.append(ticket.json())
            except httpx.HTTPError as error:
                failures.append(f"{type(error).__name__}: {error}")
    return customers, tickets, failures


def test_api_and_worker_write_at_once_under_load_without_locking_errors():
    with running_api() as api:
        started = httpx.post(f"{api.base_url}/api/calls", json={"language": "en"}, timeout=15)
        assert started.status_code == 201, started.text
        call_id = started.json()["call_id"]

        with writer_process(api.db_path, call_id) as writer:
            writer.read_ids(5)
            reader = threading.Thread(target=writer.read_to_end, daemon=True)
            reader.start()
            before = len(writer.ids)
            with ThreadPoolExecutor(THREADS) as pool:
                results = list(pool.map(lambda t: hammer(api, t), range(THREADS)))
            during = len(writer.ids) - before
            writer.process.send_signal(signal.SIGTERM)
            assert writer.process.wait(timeout=30) == 0
            reader.join(timeout=30)
            writer_err = writer.stderr()

        customers = [c for created, _, _ in results for c in created]
        tickets = [t for _, made, _ in results for t in made]
        failures = [f for _, _, failed in results for f in failed]
        assert failures == []
        assert len(customers) == len(tickets) == THREADS * CUSTOMERS_PER_THREAD
        assert during > 0, "the worker-side writer did not write while the API was under load"

        api_log = api.log()
        for output, name in ((api_log, "API log"), (writer_err, "worker-side writer")):
            assert not LOCKED.search(output), f"{name}: {output[-3000:]}"
            assert not any(marker in output for marker in WRITE_FAILED), output[-3000:]

        db = connect(api.db_path)
        try:
            stored_customers = {row[0] for row in db.conn.execute("SELECT id FROM customers")}
            stored_tickets = {row[0] for row in db.conn.execute("SELECT id FROM tickets")}
            stored_events = db.conn.execute(
                "SELECT COUNT(*) FROM call_events WHERE call_id = ? AND kind = 'tool_called'",
                [call_id],
            ).fetchone()[0]
            assert db.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            db.conn.close()
        assert {c["id"] for c in customers} <= stored_customers
        assert {t["id"] for t in tickets} <= stored_tickets
        assert set(writer.ids) <= turn_ids(api.db_path, call_id)
        assert stored_events >= len(writer.ids)  # each turn's event was queued before it
