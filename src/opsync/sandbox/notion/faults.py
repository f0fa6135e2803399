"""Pacing (429 beyond ~3 requests/s per token), injected faults, and request counters."""

from __future__ import annotations

import json
import math
import random
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, fields
from typing import Any

from opsync.clock import Clock
from opsync.pacing import RateLimit

NOTION_RATE = RateLimit(rate=3.0, burst=10)
RATE_LIMITED_MESSAGE = (
    "This request exceeds the number of requests allowed. Slow down and try again."
)
_CODES = {
    429: ("rate_limited", RATE_LIMITED_MESSAGE),
    500: ("internal_server_error", "Unexpected error occurred."),
    502: ("bad_gateway", "Notion encountered an issue while attempting to complete this request."),
    503: ("service_unavailable", "Notion is unavailable. Try again later."),
    504: ("gateway_timeout", "Notion timed out while attempting to complete this request."),
}  # fmt: skip
BAD_GATEWAY_HTML = (
    b"<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>"
)


class RateLimiter:
    """A token bucket per bearer token on an injected clock; never waits, only answers."""

    def __init__(self, limit: RateLimit, clock: Clock) -> None:
        self.limit, self.clock = limit, clock
        self._buckets: dict[str, tuple[float, float]] = {}  # token → (tokens, updated)

    def check(self, token: str) -> int | None:
        """Take a token for ``token``'s bucket; ``None`` if allowed, else Retry-After seconds."""
        now = self.clock.monotonic()
        tokens, updated = self._buckets.get(token, (float(self.limit.burst), now))
        tokens = min(float(self.limit.burst), tokens + max(0.0, now - updated) * self.limit.rate)
        if tokens >= 1.0:
            self._buckets[token] = (tokens - 1.0, now)
            return None
        self._buckets[token] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self.limit.rate))


@dataclass
class FaultConfig:
    """Probabilities (0..1, summing to ≤ 1) of answering a request with a fault instead.

    ``write_applied`` is the probability that a 5xx fault on a write (create, update, append,
    send) is answered *after* the write was applied — the realistic "outcome unknown" case
    (most typical for 504). A 429 never is: Notion rate-limits before it does anything.
    ``slow`` delays a response by ``slow_seconds`` on the clock.
    """

    rate_limited: float = 0.0
    internal_error: float = 0.0
    bad_gateway: float = 0.0
    service_unavailable: float = 0.0
    gateway_timeout: float = 0.0
    slow: float = 0.0
    slow_seconds: float = 5.0
    write_applied: float = 0.5
    bad_gateway_json: bool = False
    retry_after: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        probabilities = [*self.status_probabilities().values(), self.slow, self.write_applied]
        if any(not 0.0 <= p <= 1.0 for p in probabilities):
            raise ValueError("fault probabilities must be between 0 and 1")
        if sum(self.status_probabilities().values()) > 1.0 + 1e-9:
            raise ValueError("status fault probabilities must sum to at most 1")

    def status_probabilities(self) -> dict[int, float]:
        return {
            429: self.rate_limited,
            500: self.internal_error,
            502: self.bad_gateway,
            503: self.service_unavailable,
            504: self.gateway_timeout,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Fault:
    status: int
    after_write: bool


class FaultInjector:
    """Draws faults from a seeded RNG, so a run with the same requests fails the same way.

    ``injected`` counts what was injected since the simulator started, by kind: the status
    (``"503"``) or ``"slow"``; reconfiguring does not reset it.
    """

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.injected: Counter[str] = Counter()
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        self.config = config
        # One stream per question, so that the n-th request's status and slowness depend on
        # n alone, not on how many writes came before it.
        self._rng = random.Random(config.seed)
        self._applied_rng = random.Random(f"{config.seed}:applied")
        self._slow_rng = random.Random(f"{config.seed}:slow")

    def draw(self, is_write: bool) -> Fault | None:
        roll = self._rng.random()
        edge = 0.0
        for status, probability in self.config.status_probabilities().items():
            edge += probability
            if probability > 0 and roll < edge:
                # A 429 is decided before the request is processed: never after a write.
                applied = self._applied_rng.random() < self.config.write_applied
                after = is_write and status != 429 and applied
                self.injected[str(status)] += 1
                return Fault(status, after)
        return None

    def slow(self) -> float:
        """Seconds to delay this response (0: not slow)."""
        if self.config.slow > 0 and self._slow_rng.random() < self.config.slow:
            self.injected["slow"] += 1
            return self.config.slow_seconds
        return 0.0

    def response(self, status: int, request_id: str) -> tuple[bytes, str, dict[str, str]]:
        """Body, media type and headers of an injected fault."""
        if status == 502 and not self.config.bad_gateway_json:
            return BAD_GATEWAY_HTML, "text/html", {}
        headers = {"Retry-After": str(self.config.retry_after)} if status == 429 else {}
        code, message = _CODES[status]
        body = {"object": "error", "status": status, "code": code, "message": message,
                "request_id": request_id}  # fmt: skip
        return json.dumps(body).encode(), "application/json", headers


class RequestCounter:
    """Requests seen per endpoint (``"METHOD /v1/route/{template}"``) and status code."""

    def __init__(self) -> None:
        self._counts: defaultdict[str, defaultdict[int, int]] = defaultdict(
            lambda: defaultdict(int)
        )
        #: (monotonic seconds it arrived, endpoint, status) of every request, as answered
        self.log: list[tuple[float, str, int]] = []

    def record(self, endpoint: str, status: int, at: float | None = None) -> None:
        """Count one request; ``at`` (monotonic seconds, default now) goes to :attr:`log`."""
        self._counts[endpoint][status] += 1
        self.log.append((time.monotonic() if at is None else at, endpoint, status))

    def count(self, endpoint: str, status: int | None = None) -> int:
        by_status: dict[int, int] = self._counts.get(endpoint, {})
        return sum(by_status.values()) if status is None else by_status.get(status, 0)

    def to_json(self) -> dict[str, dict[str, int]]:
        return {
            endpoint: {str(status): n for status, n in sorted(by_status.items())}
            for endpoint, by_status in sorted(self._counts.items())
        }
