"""`python -m app.crm backup FILE` and `restore FILE`: an online backup while another process
keeps writing, a restore that gives back the same rows, and refusals that leave files alone."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from sqlite_utils import Database

from app.crm import calls, connect, customers, open_crm, quotes, tickets
from tests.api.conftest import api_env
from tests.support import PROJECT_ROOT, PYTHON, free_port, stop_process, wait_until

# A few MB of transcript, so copying the file is not instant next to the writer's commits.
BULK_TURNS = 20_000


def crm_cli(db_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = api_env(db_path, free_port(), ORNINA_ENV_FILE="/nonexistent")
    return subprocess.run(
        [PYTHON, "-m", "app.crm", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit code 1 and one line on stderr naming the problem, no traceback."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert all(word in lines[0] for word in words), lines[0]
    assert result.stdout == ""


def table_rows(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table, in rowid order (read-only, so a backup stays untouched)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [
            row[0]
            for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not row[0].startswith("sqlite_")
        ]
        return {
            name: conn.execute(f'SELECT * FROM "{name}" ORDER BY rowid').fetchall()
            for name in names
        }
    finally:
        conn.close()


def check_sound(path: Path) -> None:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


def fill(db: Database, count: int, tag: str, first: int = 0) -> None:
    """Customers with calls, transcript, events, tickets and quotes, through the CRM store."""
    for i in range(first, first + count):
        customer = customers.create_customer(
            db, name=f"{tag} {i} عميل", phone=f"0541{i:06d}", email=f"{tag}{i}@example.com"
        )
        call = calls.create_call(
            db,
            room=f"{tag}-{i}",
            language="ar",
            department="sales",
            customer_id=customer["id"],
            identity_method="trusted_token",
        )
        calls.add_event(db, call_id=call["id"], kind="persona_entered", persona="sales")
        calls.add_turn(db, call_id=call["id"], role="caller", text=f"سعر الموقع؟ {i}")
        calls.add_turn(db, call_id=call["id"], role="agent", text="...", e2e_latency=0.8)
        ticket = tickets.open_ticket(db, customer_id=customer["id"], subject=f"{tag} {i}")
        tickets.change_status(db, ticket_id=ticket["id"], status="resolved", note="done")
        quotes.create_quote(
            db, customer_id=customer["id"], items=[{"service_code": "website", "quantity": 2}]
        )
        calls.end_call(db, call_id=call["id"], outcome="quoted")


def write_until_stopped(db_path: str, stop_file: str) -> None:
    """The writer process: the API and the agent's writes, in a loop until `stop_file` exists."""
    db = connect(db_path)
    count = 0
    try:
        while not Path(stop_file).exists():
            customer = customers.create_customer(
                db, name=f"writer {count}", phone=f"0551{count:06d}"
            )
            call = calls.create_call(
                db,
                room=f"writer-{count}",
                language="en",
                department="complaints",
                customer_id=customer["id"],
                identity_method="trusted_token",
            )
            calls.add_turn(db, call_id=call["id"], role="caller", text=f"turn {count}")
            tickets.open_ticket(db, customer_id=customer["id"], subject=f"writer {count}")
            count += 1
    finally:
        db.close()
    print(json.dumps({"writes": count}))


_WRITER = "import sys; from tests.crm.test_backup import write_until_stopped as w; w(*sys.argv[1:])"


@pytest.fixture
def crm(tmp_path: Path) -> Path:
    """A CRM file made by `python -m app.crm init`, with some history in it."""
    path = tmp_path / "crm.sqlite3"
    assert crm_cli(path, "init").returncode == 0
    db = connect(path)
    try:
        fill(db, 5, "seed")
    finally:
        db.close()
    return path


def test_online_backup_while_another_process_writes(crm: Path, tmp_path: Path):
    db = connect(crm)
    with db.atomic():
        db["transcript_turns"].insert_all(
            {"call_id": 1, "at": "2026-01-01T00:00:00Z", "role": "agent", "text": "x" * 300}
            for _ in range(BULK_TURNS)
        )
    stop_file = tmp_path / "stop"
    writer = subprocess.Popen(
        [PYTHON, "-c", _WRITER, str(crm), str(stop_file)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(
            lambda: (
                db.execute("SELECT count(*) FROM calls WHERE room LIKE 'writer-%'").fetchone()[0]
                >= 20
            ),
            timeout=60,
            what="the writer's first commits",
        )
        # Everything committed up to now must be in the backup.
        committed = table_rows(crm)
        result = crm_cli(crm, "backup", str(tmp_path / "backups" / "crm-backup.sqlite3"))
        still_writing = writer.poll() is None
        written_during = db.execute("SELECT count(*) FROM customers").fetchone()[0] - len(
            committed["customers"]
        )
        stop_file.touch()
        out, err = writer.communicate(timeout=60)
    finally:
        stop_process(writer)
        db.close()

    assert result.returncode == 0, result.stderr
    assert "backed up" in result.stdout
    assert writer.returncode == 0, err
    assert "locked" not in err and "Traceback" not in err, err
    assert still_writing and written_during > 0, "the writer did not run alongside the backup"
    assert json.loads(out)["writes"] > 20

    backup_file = tmp_path / "backups" / "crm-backup.sqlite3"
    check_sound(backup_file)
    saved = table_rows(backup_file)
    for table, rows in committed.items():
        # The writer only inserts, so the rows seen before are unchanged and must all be there.
        assert rows == saved[table][: len(rows)], table
    assert len(saved["transcript_turns"]) >= BULK_TURNS


def test_restore_into_a_fresh_target_gives_the_same_rows(crm: Path, tmp_path: Path):
    backup_file = tmp_path / "crm-backup.sqlite3"
    assert crm_cli(crm, "backup", str(backup_file)).returncode == 0

    target = tmp_path / "elsewhere" / "crm.sqlite3"
    result = crm_cli(target, "restore", str(backup_file))
    assert result.returncode == 0, result.stderr
    assert "restored" in result.stdout
    check_sound(target)
    restored = table_rows(target)
    assert restored == table_rows(crm)
    assert len(restored["quotes"]) == 5 and len(restored["ticket_status_changes"]) == 10
    # The restored file is a working CRM: the store reads and writes it.
    db = open_crm(target)
    try:
        assert customers.find_by_phone(db, phone="+966541000003")["name"] == "seed 3 عميل"
        fill(db, 1, "after-restore", 200)
    finally:
        db.close()


_CRASH_AFTER_WRITING = (
    "import os, sys; from app.crm import connect; from tests.crm.test_backup import fill; "
    "fill(connect(sys.argv[1]), 2, 'lost', 100); os._exit(0)"
)


def test_restore_replaces_a_crm_and_its_leftover_wal(crm: Path, tmp_path: Path):
    backup_file = tmp_path / "crm-backup.sqlite3"
    assert crm_cli(crm, "backup", str(backup_file)).returncode == 0
    before = table_rows(crm)
    # A process that dies without closing leaves its commits in the WAL file only; restore must
    # not let SQLite replay that WAL onto the restored file.
    subprocess.run(
        [PYTHON, "-c", _CRASH_AFTER_WRITING, str(crm)], cwd=PROJECT_ROOT, check=True, timeout=60
    )
    assert Path(f"{crm}-wal").stat().st_size > 0
    assert len(table_rows(crm)["customers"]) == len(before["customers"]) + 2

    result = crm_cli(crm, "restore", str(backup_file))
    assert result.returncode == 0, result.stderr
    assert table_rows(crm) == before
    check_sound(crm)


def garbage(size: int) -> bytes:
    """Deterministic noise."""
    return bytes((n * 151 + 7) % 256 for n in range(size))


def other_database(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (text TEXT)")
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        ("not a database", ["integrity check"]),
        ("mangled pages", ["integrity check"]),
        ("empty file", ["not a CRM backup"]),
        ("another database", ["not a CRM backup"]),
    ],
)
def test_restore_refuses_a_corrupt_file(crm: Path, tmp_path: Path, damage: str, words: list[str]):
    bad = tmp_path / "bad.sqlite3"
    if damage == "not a database":
        bad.write_bytes(garbage(64 * 1024))
    elif damage == "mangled pages":
        assert crm_cli(crm, "backup", str(bad)).returncode == 0
        content = bytearray(bad.read_bytes())
        page = 4096
        assert len(content) > 8 * page
        for start in range(2 * page, len(content) - page, 3 * page):
            content[start + 100 : start + page - 100] = garbage(page - 200)
        bad.write_bytes(bytes(content))
    elif damage == "empty file":
        bad.write_bytes(b"")
    else:
        other_database(bad)
    before = table_rows(crm)

    assert_refused(crm_cli(crm, "restore", str(bad)), str(bad), *words)
    assert table_rows(crm) == before
    check_sound(crm)


def test_restore_refuses_a_missing_file(crm: Path, tmp_path: Path):
    before = table_rows(crm)
    assert_refused(crm_cli(crm, "restore", str(tmp_path / "nope.sqlite3")), "does not exist")
    assert table_rows(crm) == before


def test_backup_refuses_an_existing_destination(crm: Path, tmp_path: Path):
    destination = tmp_path / "precious.sqlite3"
    destination.write_bytes(b"an older backup, or anything else")
    result = crm_cli(crm, "backup", str(destination))
    assert_refused(result, str(destination), "exists")
    assert destination.read_bytes() == b"an older backup, or anything else"


def test_backup_refuses_a_missing_crm(tmp_path: Path):
    missing = tmp_path / "never-made.sqlite3"
    assert_refused(crm_cli(missing, "backup", str(tmp_path / "b.sqlite3")), "does not exist")
    assert not missing.exists() and not (tmp_path / "b.sqlite3").exists()
