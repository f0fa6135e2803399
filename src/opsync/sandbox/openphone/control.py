"""Knobs of the simulator's transport behaviour: rate limit, fault injection, counters.

Rate limit (undocumented details, our choices):

* a **fixed one-second window per API key** on the injected clock's monotonic time
  (``floor(t)``): up to ``limit`` requests (default 10) per window, the rest get ``429``
  until the next window — as the 2026-03-30 docs describe ("until the next one-second
  window"). Requests without a valid key are answered ``401`` and do not count.
* ``429`` carries the flat error body. A ``Retry-After`` header is **not** sent by default
  (the docs do not document one); ``retry_after_header=True`` sends ``Retry-After: 1`` so a
  client can be tested both ways.

Fault injection: each request draws once from a seeded RNG; with the configured
probabilities it is answered ``429``/``500`` (spec-shaped JSON) or ``502``/``503``/``504``
(a plain-text gateway page, as a load balancer would send), and with ``slow_probability``
it is delayed by ``slow_seconds`` on the clock before being served normally. An injected
``429`` carries ``Retry-After: 1`` exactly when the rate limiter's own ``429`` does
(``SimulatorConfig.retry_after_header``).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field

from opsync.clock import Clock


class RateLimiter:
    """Fixed 1-s windows per key; ``allow(key)`` consumes one request of the key's window."""

    def __init__(self, clock: Clock, limit: int = 10, window: float = 1.0) -> None:
        self.clock = clock
        self.limit = limit
        self.window = window
        self.enabled = True
        self._windows: dict[str, tuple[int, int]] = {}

    def allow(self, key: str) -> bool:
        if not self.enabled:
            return True
        slot = math.floor(self.clock.monotonic() / self.window)
        current, used = self._windows.get(key, (slot, 0))
        if current != slot:
            used = 0
        if used >= self.limit:
            self._windows[key] = (slot, used)
            return False
        self._windows[key] = (slot, used + 1)
        return True

    def reset(self) -> None:
        self._windows.clear()


FAULT_STATUSES = (429, 500, 502, 503, 504)


@dataclass
class FaultConfig:
    """Probabilities (0 to 1) of each injected answer; their sum must not exceed 1."""

    p429: float = 0.0
    p500: float = 0.0
    p502: float = 0.0
    p503: float = 0.0
    p504: float = 0.0
    slow_probability: float = 0.0
    slow_seconds: float = 2.0
    #: paths (prefix match) exempt from faults, e.g. ``("/media/",)``
    exempt_prefixes: tuple[str, ...] = ()

    def probabilities(self) -> list[tuple[int, float]]:
        pairs = [(status, float(getattr(self, f"p{status}"))) for status in FAULT_STATUSES]
        total = sum(p for _, p in pairs)
        if any(p < 0 for _, p in pairs) or total > 1.0 + 1e-9:
            raise ValueError(f"fault probabilities must be >= 0 and sum to <= 1 (got {total})")
        return pairs


class FaultInjector:
    def __init__(self, seed: int = 0, config: FaultConfig | None = None) -> None:
        self.config = config or FaultConfig()
        self.rng = random.Random(seed)
        self.injected: Counter[int] = Counter()
        #: responses delayed by ``slow_seconds`` (counted apart: a slow response may be a fault)
        self.slowed = 0

    def configure(self, **changes: float | tuple[str, ...]) -> None:
        """Replace fields of the config, e.g. ``configure(p503=0.2, slow_probability=0.1)``."""
        config = FaultConfig(**{**self.config.__dict__, **changes})
        config.probabilities()
        self.config = config

    def clear(self) -> None:
        self.config = FaultConfig()

    def draw(self, path: str) -> tuple[int | None, float]:
        """(status to inject or None, seconds to delay) for one request to ``path``."""
        config = self.config
        if any(path.startswith(prefix) for prefix in config.exempt_prefixes):
            return None, 0.0
        roll = self.rng.random()
        status: int | None = None
        edge = 0.0
        for candidate, probability in config.probabilities():
            edge += probability
            if probability > 0 and roll < edge:
                status = candidate
                break
        delay = 0.0
        if config.slow_probability > 0 and self.rng.random() < config.slow_probability:
            delay = config.slow_seconds
            self.slowed += 1
        if status is not None:
            self.injected[status] += 1
        return status, delay


@dataclass
class RequestCounters:
    """What the simulator was asked: per endpoint (``"GET /v1/calls/{callId}"``) and status."""

    by_endpoint: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)
    by_key: Counter[str] = field(default_factory=Counter)

    def record(self, endpoint: str, status: int, key: str | None) -> None:
        self.by_endpoint[endpoint] += 1
        self.by_status[status] += 1
        if key:
            self.by_key[key] += 1

    def __getitem__(self, endpoint: str) -> int:
        return self.by_endpoint[endpoint]

    @property
    def total(self) -> int:
        return sum(self.by_endpoint.values())

    def reset(self) -> None:
        self.by_endpoint.clear()
        self.by_status.clear()
        self.by_key.clear()
