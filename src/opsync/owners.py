"""Lease owners that name their process, and whether that process is gone.

A worker's owner id is ``host:pid:random:pidns`` — the machine's name, the process id, a
random part (two workers of one process differ), and the inode of the process's PID namespace
(two containers on one machine can share a hostname and a pid number, never that inode). A
worker killed with ``kill -9`` or by the OOM killer leaves its events in flight until their
lease expires; a process starting on the same machine can see that the owner's process no
longer exists and give them back at once (decision record 0016). The check errs towards
"alive": another machine, another namespace, an owner id of another shape, this very process
(which may run several workers), or a pid that some process holds again — all count as alive,
and those events wait for their lease as before.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["OwnerRef", "new_owner_id", "owner_gone", "parse_owner", "pid_alive", "pid_namespace"]


@dataclass(frozen=True)
class OwnerRef:
    host: str
    pid: int
    pid_namespace: str


def pid_namespace() -> str:
    """The inode of this process's PID namespace; ``-`` where there is none to read."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "-"


def new_owner_id() -> str:
    """``host:pid:random:pidns`` for a new worker of this process."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}:{pid_namespace()}"


def parse_owner(owner: str) -> OwnerRef | None:
    """The process an owner id names; ``None`` for an id of another shape."""
    parts = owner.rsplit(":", 3)
    if len(parts) != 4 or not parts[1].isdigit():
        return None
    host, pid, _, namespace = parts
    return OwnerRef(host, int(pid), namespace)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists here (one we may not signal counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_gone(
    owner: str,
    *,
    here: OwnerRef | None = None,
    alive: Callable[[int], bool] = pid_alive,
) -> bool:
    """True only when ``owner`` names a process of this machine and PID namespace, other than
    this one, and no such process exists. ``here`` and ``alive`` are for tests."""
    ref = parse_owner(owner)
    me = here or OwnerRef(socket.gethostname(), os.getpid(), pid_namespace())
    if ref is None or ref.host != me.host or ref.pid_namespace != me.pid_namespace:
        return False
    return ref.pid != me.pid and ref.pid > 0 and not alive(ref.pid)
