"""Two OS processes (the API and the agent worker, say) writing one CRM file at once."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from app.crm import connect
from app.crm.migrations import migrations
from app.crm.sample_catalog import SAMPLE_SERVICES
from tests.support import PROJECT_ROOT, PYTHON, clean_env, stop_process, wait_until

WRITES_EACH = 250


def test_two_processes_lose_nothing(tmp_path: Path):
    db_path = tmp_path / "crm.sqlite3"  # does not exist yet: both race to create it
    sync_dir = tmp_path / "sync"
    sync_dir.mkdir()
    writers = [
        subprocess.Popen(
            [
                PYTHON,
                "-m",
                "tests.crm.concurrent_writer",
                str(db_path),
                str(sync_dir),
                str(worker),
                str(WRITES_EACH),
            ],
            cwd=PROJECT_ROOT,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker in (0, 1)
    ]
    try:
        wait_until(
            lambda: all((sync_dir / f"ready-{w}").exists() for w in (0, 1)),
            timeout=60,
            what="both writers at the barrier",
        )
        (sync_dir / "go").touch()
        results = [writer.communicate(timeout=120) for writer in writers]
    finally:
        for writer in writers:
            stop_process(writer)

    for writer, (_, err) in zip(writers, results, strict=True):
        assert writer.returncode == 0, err
        assert "Traceback" not in err and "locked" not in err, err
    timings = [json.loads(out) for out, _ in results]
    # They really ran at the same time: each started before the other finished.
    assert timings[0]["started"] < timings[1]["finished"]
    assert timings[1]["started"] < timings[0]["finished"]

    db = connect(db_path)
    try:
        total = 2 * WRITES_EACH
        assert db["customers"].count == total + 1  # plus the one shared phone
        shared = list(db.query("SELECT * FROM customers WHERE phone = '+966501111111'"))
        assert len(shared) == 1 and shared[0]["name"] in ("w0", "w1")
        assert db["calls"].count == total
        assert db["call_events"].count == total
        assert db["transcript_turns"].count == total
        assert db["tickets"].count == total
        assert db["ticket_status_changes"].count == total
        numbers = {row["number"] for row in db.query("SELECT number FROM tickets")}
        assert numbers == {f"TKT-{n:06d}" for n in range(1, total + 1)}
        for worker in (0, 1):
            rooms = {
                r["room"]
                for r in db.query("SELECT room FROM calls WHERE room LIKE ?", [f"w{worker}-%"])
            }
            assert rooms == {f"w{worker}-{i}" for i in range(WRITES_EACH)}

        names = [m.name for m in migrations.applied(db)]
        assert len(names) == len(set(names)), names
        assert db["services"].count == len(SAMPLE_SERVICES)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        db.close()
