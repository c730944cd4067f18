"""One writer of `test_concurrent_writers`: waits at a barrier, then writes through `app.crm`.

    python -m tests.crm.concurrent_writer DB SYNC_DIR WORKER COUNT

Prints one JSON line with its first and last write times; any exception exits non-zero.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from app.crm import calls, customers, open_crm, tickets

SHARED_PHONE = "0501111111"
BARRIER_TIMEOUT = 60.0


def wait_for_go(sync_dir: Path, worker: int) -> None:
    (sync_dir / f"ready-{worker}").touch()
    deadline = time.monotonic() + BARRIER_TIMEOUT
    while not (sync_dir / "go").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the test never said go")
        time.sleep(0.001)


def main(db_path: str, sync_dir: str, worker: int, count: int) -> None:
    wait_for_go(Path(sync_dir), worker)
    started = time.time()
    db = open_crm(db_path)  # both processes also race on creating and migrating the file
    try:
        for i in range(count):
            customer = customers.create_customer(
                db, name=f"w{worker}-{i} عميل", phone=f"05{5 + worker}{i:07d}"
            )
            call = calls.create_call(
                db,
                room=f"w{worker}-{i}",
                language="ar",
                department="complaints",
                customer_id=customer["id"],
                identity_method="trusted_token",
            )
            calls.add_event(db, call_id=call["id"], kind="tool_called", tool="open_ticket")
            calls.add_turn(db, call_id=call["id"], role="caller", text=f"مشكلة رقم {i}")
            tickets.open_ticket(db, customer_id=customer["id"], subject=f"w{worker}-{i}")
            customers.find_or_create_by_phone(db, phone=SHARED_PHONE, name=f"w{worker}")
    finally:
        db.close()
    print(json.dumps({"worker": worker, "started": started, "finished": time.time()}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
