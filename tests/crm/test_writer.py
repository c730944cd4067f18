"""The API's call-start writer thread: jobs that wait together commit together, each one's
failure stays its own, and an answer comes only once its writes are committed."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlite_utils import Database

from app.crm import InvalidInput, connect, customers, open_crm
from app.crm.writer import CrmWriter


def _names(path: Path) -> list[str]:
    reader = connect(path)  # another connection sees only committed rows
    try:
        return [row["name"] for row in reader.query("SELECT name FROM customers ORDER BY id")]
    finally:
        reader.close()


def _add(db: Database, name: str) -> int:
    return customers.create_customer(db, name=name)["id"]


def _add_then_fail(db: Database, name: str) -> int:
    customers.create_customer(db, name=name)
    raise InvalidInput("refused after writing")


@pytest.fixture
def writer(db_path: Path, db: Database):
    crm_writer = CrmWriter(db_path)
    yield crm_writer
    crm_writer.close()


class _Gate:
    """A job that holds the writer thread until released, so the next jobs queue up."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, db: Database) -> str:
        self.started.set()
        assert self.release.wait(30), "the test never released the writer"
        return "gate"


async def _while_writer_is_busy(writer: CrmWriter, jobs: list) -> tuple[asyncio.Task, list]:
    gate = _Gate()
    held = asyncio.create_task(writer.run(gate))
    assert await asyncio.to_thread(gate.started.wait, 30)
    queued = [asyncio.create_task(writer.run(*job)) for job in jobs]
    await asyncio.sleep(0)  # one turn of the loop: each task puts its job on the queue
    gate.release.set()
    return held, queued


async def test_answers_come_after_commit(writer: CrmWriter, db_path: Path):
    customer_id = await writer.run(_add, "Layla")
    assert customer_id == 1
    assert _names(db_path) == ["Layla"]


async def test_a_failing_job_undoes_only_its_own_writes(writer: CrmWriter, db_path: Path):
    held, queued = await _while_writer_is_busy(
        writer, [(_add, "first"), (_add_then_fail, "refused"), (_add, "third")]
    )
    assert await held == "gate"
    results = await asyncio.gather(*queued, return_exceptions=True)
    first, refused, third = results
    assert isinstance(refused, InvalidInput)
    assert isinstance(first, int) and isinstance(third, int) and first != third
    assert _names(db_path) == ["first", "third"]


async def test_many_waiting_call_starts_all_commit(writer: CrmWriter, db_path: Path):
    held, queued = await _while_writer_is_busy(writer, [(_add, f"caller {i}") for i in range(150)])
    await held
    ids = await asyncio.gather(*queued)
    assert len(set(ids)) == 150
    assert _names(db_path) == [f"caller {i}" for i in range(150)]


async def test_a_caller_who_hangs_up_does_not_stop_the_writer(writer: CrmWriter, db_path: Path):
    held, (abandoned,) = await _while_writer_is_busy(writer, [(_add, "gone")])
    abandoned.cancel()
    await held
    assert await writer.run(_add, "next") >= 1
    assert "next" in _names(db_path)


async def test_a_writer_started_before_its_crm_file_exists_works_once_it_does(tmp_path: Path):
    path = tmp_path / "not-yet" / "crm.sqlite3"
    crm_writer = CrmWriter(path)
    try:
        with pytest.raises(sqlite3.OperationalError):
            await crm_writer.run(_add, "too early")
        open_crm(path).close()
        assert await crm_writer.run(_add, "on time") == 1
        assert _names(path) == ["on time"]
    finally:
        crm_writer.close()
