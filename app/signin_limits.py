"""Sign-in attempts, limited per login and address and per address: repeated wrong passwords
are first slowed, then refused for a while. The same login from another address is not held
back, so an attacker cannot lock the real operator out."""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque

from fastapi import HTTPException

WINDOW = 15 * 60.0
SLOW_AFTER = 2
"""Failures of one login from one address before each answer is delayed."""
REFUSE_AFTER = 5
"""Failures of one login from one address before it is refused for the rest of the window."""
REFUSE_ADDRESS_AFTER = 20
"""Failures from one address, whatever the logins (credential stuffing)."""
MAX_DELAY = 4.0


class SignInLimiter:
    def __init__(self) -> None:
        self._failures: defaultdict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        hits = self._failures[key]
        while hits and hits[0] <= now - WINDOW:
            hits.popleft()
        return hits

    def check(self, login: str, address: str) -> float:
        """Raise 429 while this login or this address is refused; else the delay (seconds) to
        wait before answering."""
        now = time.monotonic()
        with self._lock:
            pair = self._recent((login, address), now)
            anywhere = self._recent(("", address), now)
            for hits, limit in ((pair, REFUSE_AFTER), (anywhere, REFUSE_ADDRESS_AFTER)):
                if len(hits) >= limit:
                    retry = max(1, math.ceil(hits[-1] + WINDOW - now))
                    raise HTTPException(
                        429,
                        f"too many failed sign-ins: try again in {retry} s",
                        headers={"Retry-After": str(retry)},
                    )
            extra = len(pair) - SLOW_AFTER + 1
            return 0.0 if extra <= 0 else min(MAX_DELAY, 0.5 * 2 ** (extra - 1))

    def failed(self, login: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._failures[(login, address)].append(now)
            self._failures[("", address)].append(now)
            if len(self._failures) > 10_000:
                for key in [k for k, hits in self._failures.items() if not self._recent(k, now)]:
                    del self._failures[key]

    def succeeded(self, login: str, address: str) -> None:
        with self._lock:
            self._failures.pop((login, address), None)
