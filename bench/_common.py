"""What every benchmark shares: results with targets, percentiles, machine facts, RSS.

A benchmark returns a :class:`BenchResult`: its parameters (the sizes it ran at, and whether
they were scaled down from the issue's), named metrics, :class:`Check` rows (a metric against
its target; a missed target is a finding, reported as such) and free-text notes.
"""

from __future__ import annotations

import os
import platform
import resource
import socket
import statistics
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opsync._uvicorn import bind_socket
from opsync.sandbox._server import serve

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Check:
    """One metric against its target: ``op`` is ``>=``, ``<=`` or ``<``; ``info`` rows (no
    target) are shown but not judged."""

    label: str
    value: float
    unit: str
    target: float | None = None
    op: str = ">="

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        if self.op == ">=":
            return self.value >= self.target
        if self.op == "<=":
            return self.value <= self.target
        if self.op == "<":
            return self.value < self.target
        raise ValueError(f"unknown comparison {self.op!r}")

    @property
    def target_text(self) -> str:
        if self.target is None:
            return ""
        return f"{self.op} {fmt(self.target)} {self.unit}".rstrip()

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "value": self.value,
            "unit": self.unit,
            "target": self.target,
            "op": self.op if self.target is not None else None,
            "met": self.met,
        }


@dataclass
class BenchResult:
    name: str
    title: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    elapsed_seconds: float = 0.0

    def check(
        self, label: str, value: float, unit: str, target: float | None = None, op: str = ">="
    ) -> None:
        self.checks.append(Check(label, value, unit, target, op))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "params": self.params,
            "metrics": self.metrics,
            "checks": [c.to_json() for c in self.checks],
            "notes": self.notes,
            "elapsed_seconds": round(self.elapsed_seconds, 2),
        }


def fmt(value: float) -> str:
    """A number as a table shows it: integers plainly, small values with 3 significant digits."""
    if value == int(value) and abs(value) < 1e12:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def percentile(samples: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile (0..100) by linear interpolation; 0.0 for no samples."""
    if not samples:
        return 0.0
    if len(samples) == 1:
        return float(samples[0])
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * pct / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary_ms(samples_s: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/max/mean in milliseconds of samples in seconds."""
    ms = [s * 1000.0 for s in samples_s]
    return {
        "count": float(len(ms)),
        "p50_ms": round(percentile(ms, 50), 4),
        "p90_ms": round(percentile(ms, 90), 4),
        "p99_ms": round(percentile(ms, 99), 4),
        "max_ms": round(max(ms), 4) if ms else 0.0,
        "mean_ms": round(statistics.fmean(ms), 4) if ms else 0.0,
    }


def machine_facts() -> dict[str, Any]:
    """Cores, Python, platform, the date: what a number means depends on them."""
    return {
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "packages": _versions(
            "httpx", "uvicorn", "starlette", "sqlalchemy", "aiosqlite", "h11", "notion-client"
        ),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor()


def _versions(*names: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


# --- memory ----------------------------------------------------------------------------------


def _status_kb(pid: int | str, field_name: str) -> int | None:
    """A ``kB`` field of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``), or ``None``."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return None


def rss_mb(pid: int | str = "self") -> float | None:
    """Current resident set size of ``pid`` in MB (MiB), from /proc; ``None`` if unknown."""
    kb = _status_kb(pid, "VmRSS")
    return None if kb is None else kb / 1024.0


def peak_rss_mb(pid: int | str = "self") -> float | None:
    """Peak resident set size (``VmHWM``) of ``pid`` in MB; for ``self`` falls back to
    ``getrusage`` where /proc is missing."""
    kb = _status_kb(pid, "VmHWM")
    if kb is None and pid == "self":
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux
    return None if kb is None else kb / 1024.0


# --- serving -----------------------------------------------------------------------------


@asynccontextmanager
async def serve_simulator(app: Any) -> AsyncIterator[str]:
    """Serve a simulator on a free loopback port (``opsync.sandbox._server.serve``) with
    ``TCP_NODELAY`` on its listening socket, so the simulator adds no delayed-ACK stall of
    its own (see :mod:`bench._ingest_server`); yields its base URL."""
    sock = bind_socket(HOST)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    async with serve(app, HOST, sock=sock) as url:
        yield url
