"""Calls outlive a SIGTERM sent to the worker's whole process group.

supervisord stops the worker with `stopasgroup` (as `docker stop` does through it), so SIGTERM
reaches every process of the worker, not only the one that drains. livekit-agents 1.8.9 means
its job processes to ignore it, but decides so when its module is imported, which under the
forkserver happens before any job process exists; and the forkserver itself dies of it, after
which the worker can no longer tell when a job process ends. Either way the calls in progress
are cut off instead of drained.

The worker lists this module in the forkserver's preload (`AgentServer(preload_modules=...)`).
Imported there, it makes the forkserver, and every job process forked from it, ignore SIGTERM
and SIGINT: the worker drains, then ends its job processes itself. Imported anywhere else it
does nothing.
"""

from __future__ import annotations

import signal
import sys
from multiprocessing import forkserver


def imported_by_forkserver() -> bool:
    frame = sys._getframe()
    while frame is not None:
        if frame.f_code is forkserver.main.__code__:
            return True
        frame = frame.f_back
    return False


if imported_by_forkserver():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
