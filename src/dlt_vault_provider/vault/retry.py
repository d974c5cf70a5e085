"""Bounded retries: exponential backoff with full jitter, capped in count and in time."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one call. ``deadline`` covers every attempt."""

    max_attempts: int = 4
    backoff: float = 0.2
    max_backoff: float = 2.0
    deadline: float = 20.0

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Full jitter: uniform in [0, min(max_backoff, backoff * 2**(attempt-1))]."""
        return rng() * min(self.max_backoff, self.backoff * (2 ** (attempt - 1)))

    def start(self, clock: Callable[[], float] = time.monotonic) -> RetryBudget:
        return RetryBudget(self, clock() + self.deadline, clock)


class RetryBudget:
    """The attempts and time left for one call."""

    def __init__(self, policy: RetryPolicy, ends_at: float, clock: Callable[[], float]) -> None:
        self.policy = policy
        self.ends_at = ends_at
        self.clock = clock
        self.attempt = 0
        self.started_at = clock()

    def remaining(self) -> float:
        return max(0.0, self.ends_at - self.clock())

    def elapsed(self) -> float:
        return self.clock() - self.started_at

    def next_attempt(self) -> int:
        self.attempt += 1
        return self.attempt

    def wait_before_retry(self, retry_after: float | None = None) -> bool:
        """Sleep before the next attempt; False when no attempt or time is left."""
        if self.attempt >= self.policy.max_attempts:
            return False
        pause = self.policy.delay(self.attempt)
        if retry_after is not None:
            pause = max(pause, min(retry_after, self.policy.max_backoff * 4))
        if pause >= self.remaining():
            return False
        time.sleep(pause)
        return True
