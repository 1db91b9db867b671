"""Logging in to the UI (a non-loopback bind): the password check and failed-login throttling.

The password is checked in constant time; failed logins slow down further tries, per client
address and for everyone together (:class:`LoginThrottle`, applied by :class:`ui.security.Guard`
before Gradio's ``/login`` route sees the password).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

MIN_PASSWORD_CHARS = 12
EVERYONE = "*"
"""Throttle key of all clients together (never a client address)."""
MAX_TRACKED = 10_000
"""Client addresses remembered at most; older entries are dropped first."""


@dataclass(frozen=True)
class Credentials:
    """The one account, as Gradio's ``auth`` callable: ``credentials(user, password) -> bool``."""

    user: str
    password: str = field(repr=False)

    def __call__(self, user: str, password: str) -> bool:
        # Both are compared every time, as equal-length digests: the time taken tells neither
        # which one was wrong nor how long the password is.
        same_user = hmac.compare_digest(_digest(user), _digest(self.user))
        same_password = hmac.compare_digest(_digest(password), _digest(self.password))
        return same_user & same_password


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class LoginThrottle:
    """Failed logins make the next try wait.

    After ``free`` failures in a row from one client address, its next try must wait
    ``base_seconds``, then twice that after each further failure, up to ``max_seconds``; the same
    holds for all clients together after ``global_free`` failures. A try made while waiting is
    refused without looking at the password. Failures are forgotten ``forget_seconds`` after the
    last one, and a successful login clears them. Behind a reverse proxy every client has the
    proxy's address, so the per-client and global limits become one.
    """

    def __init__(
        self,
        free: int = 5,
        global_free: int = 20,
        base_seconds: float = 1.0,
        max_seconds: float = 300.0,
        forget_seconds: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free, self.global_free = free, global_free
        self.base_seconds, self.max_seconds, self.forget_seconds = base_seconds, max_seconds, forget_seconds
        self.clock = clock
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (failures in a row, time of the last)
        self._lock = threading.Lock()

    def attempt(self, client: str) -> float:
        """Seconds ``client`` must still wait (its try is refused), or 0.0: the try goes ahead and
        counts as a failure until :meth:`succeeded` says otherwise (so a burst of parallel tries
        cannot all slip in before the first one fails)."""
        now = self.clock()
        with self._lock:
            wait = max(self._wait(client, self.free, now), self._wait(EVERYONE, self.global_free, now))
            if wait > 0:
                return wait
            for key in (client, EVERYONE):
                self._failures[key] = (self._count(key, now) + 1, now)
            self._forget_oldest()
            return 0.0

    def succeeded(self, client: str) -> None:
        """A correct login from ``client``: its failures, and everyone's, are cleared."""
        with self._lock:
            self._failures.pop(client, None)
            self._failures.pop(EVERYONE, None)

    def delay(self, failures: int, free: int) -> float:
        """How long the next try waits after ``failures`` in a row.

        >>> [LoginThrottle().delay(n, 5) for n in (4, 5, 6, 7, 30)]
        [0.0, 1.0, 2.0, 4.0, 300.0]
        """
        if failures < free:
            return 0.0
        return min(self.max_seconds, self.base_seconds * 2.0 ** min(failures - free, 64))

    def _count(self, key: str, now: float) -> int:
        failures, last = self._failures.get(key, (0, now))
        return 0 if now - last > self.forget_seconds else failures

    def _wait(self, key: str, free: int, now: float) -> float:
        last = self._failures.get(key, (0, now))[1]
        return max(0.0, last + self.delay(self._count(key, now), free) - now)

    def _forget_oldest(self) -> None:
        if len(self._failures) > MAX_TRACKED:
            for key, _ in sorted(self._failures.items(), key=lambda kv: kv[1][1])[: len(self._failures) - MAX_TRACKED]:
                if key != EVERYONE:
                    del self._failures[key]
