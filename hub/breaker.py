"""A circuit breaker per source: stop waiting on a source that keeps failing.

    closed     calls go through; `failures` consecutive failures open the breaker
    open       calls fail at once with SOURCE_UNAVAILABLE for `reset` seconds
    half_open  after that, one call goes through as a probe: success closes the
               breaker, failure opens it again for another `reset` seconds

Only the source's own failures count (unavailable, timeout), not a caller's bad
question.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Breaker:
    def __init__(
        self, failures: int = 5, reset: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = failures
        self.reset = reset
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.probing = False

    @property
    def state(self) -> State:
        if self.opened_at is None:
            return State.CLOSED
        if self.probing or self.clock() - self.opened_at >= self.reset:
            return State.HALF_OPEN
        return State.OPEN

    def allow(self) -> bool:
        """May a call go to the source now? In half-open, only one probe at a time."""
        state = self.state
        if state is State.CLOSED:
            return True
        if state is State.HALF_OPEN and not self.probing:
            self.probing = True
            return True
        return False

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.probing = False

    def failure(self) -> None:
        self.failures += 1
        if self.probing or self.failures >= self.threshold:
            self.opened_at = self.clock()
            self.probing = False

    def abandon(self) -> None:
        """A probe ended without an answer (cancelled): let the next call probe."""
        self.probing = False
