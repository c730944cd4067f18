"""Sign-in attempts, limited so that guessing a password gets nowhere and the real operator is
not locked out by someone else's guessing:

- one login from one address: from the third failure each answer is delayed, after five in
  fifteen minutes that pair is refused;
- one login from anywhere: after ten failures each answer is delayed (never refused: that
  would let anyone lock an operator out);
- one address, whatever the logins: refused after twenty failures (credential stuffing); a
  successful sign-in from it clears that count, so an office behind one address recovers.

An attempt counts as a failure from the moment it is checked (a success takes it back), so a
burst of parallel guesses is counted as it arrives, not after the slow password checks.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from fastapi import HTTPException

WINDOW = 15 * 60.0
SLOW_PAIR_AFTER = 2
REFUSE_PAIR_AFTER = 5
SLOW_LOGIN_AFTER = 10
REFUSE_ADDRESS_AFTER = 20
MAX_DELAY = 4.0
MAX_KEYS = 50_000


class SignInLimiter:
    def __init__(self) -> None:
        self._failures: dict[tuple[str, ...], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, ...], now: float) -> deque[float]:
        hits = self._failures.get(key, deque())
        while hits and hits[0] <= now - WINDOW:
            hits.popleft()
        return hits

    def _note(self, key: tuple[str, ...], now: float) -> None:
        if key not in self._failures and len(self._failures) >= MAX_KEYS:
            self._forget(now)
        self._failures.setdefault(key, deque()).append(now)

    def _forget(self, now: float) -> None:
        for key in [k for k in self._failures if not self._recent(k, now)]:
            del self._failures[key]
        while len(self._failures) >= MAX_KEYS:  # still full of live keys: drop the oldest
            del self._failures[next(iter(self._failures))]

    def attempt(self, login: str, address: str) -> float:
        """Count an attempt (as a failure until `succeeded`), or raise 429 while this login
        from this address, or this address, is refused. Returns the seconds to wait before
        answering."""
        now = time.monotonic()
        pair, by_login, by_address = (
            ("pair", login, address),
            ("login", login),
            ("address", address),
        )
        with self._lock:
            for key, limit in ((pair, REFUSE_PAIR_AFTER), (by_address, REFUSE_ADDRESS_AFTER)):
                hits = self._recent(key, now)
                if len(hits) >= limit:
                    retry = max(1, math.ceil(hits[-limit] + WINDOW - now))
                    raise HTTPException(
                        429,
                        f"too many failed sign-ins: try again in {retry} s",
                        headers={"Retry-After": str(retry)},
                    )
            before = len(self._recent(pair, now)), len(self._recent(by_login, now))
            for key in (pair, by_login, by_address):
                self._note(key, now)
        extra = max(before[0] - SLOW_PAIR_AFTER + 1, before[1] - SLOW_LOGIN_AFTER + 1)
        return 0.0 if extra <= 0 else min(MAX_DELAY, 0.5 * 2 ** (extra - 1))

    def succeeded(self, login: str, address: str) -> None:
        with self._lock:
            for key in (("pair", login, address), ("address", address)):
                self._failures.pop(key, None)
            hits = self._failures.get(("login", login))
            if hits:
                hits.pop()  # this attempt was no failure
