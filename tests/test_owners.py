"""Owner ids name their process; only a process of this machine and PID namespace that no
longer exists counts as gone."""

from __future__ import annotations

import os
import subprocess
import sys

from opsync.owners import OwnerRef, new_owner_id, owner_gone, parse_owner, pid_alive, pid_namespace

HERE = OwnerRef("box", 100, "4026531836")


def never_alive(pid: int) -> bool:
    return False


def always_alive(pid: int) -> bool:
    return True


def test_a_new_owner_id_names_this_process() -> None:
    ref = parse_owner(new_owner_id())
    assert ref is not None
    assert ref.pid == os.getpid()
    assert ref.pid_namespace == pid_namespace()
    assert new_owner_id() != new_owner_id()


def test_ids_of_another_shape_are_not_parsed() -> None:
    assert parse_owner("d1") is None
    assert parse_owner("box:123:abcd") is None  # the old format: left to its lease
    assert parse_owner("box:pid:abcd:ns") is None


def test_only_a_dead_process_of_this_machine_and_namespace_is_gone() -> None:
    assert owner_gone("box:200:abcd:4026531836", here=HERE, alive=never_alive)
    assert not owner_gone("box:200:abcd:4026531836", here=HERE, alive=always_alive)
    assert not owner_gone("other:200:abcd:4026531836", here=HERE, alive=never_alive)
    assert not owner_gone("box:200:abcd:4026532000", here=HERE, alive=never_alive)
    # this very process may run several workers: never gone
    assert not owner_gone("box:100:ffff:4026531836", here=HERE, alive=never_alive)
    assert not owner_gone("box:123:abcd", here=HERE, alive=never_alive)


def test_pid_alive_sees_a_reaped_child_gone() -> None:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert pid_alive(os.getpid())
    # a pid just reaped is free unless the system reused it at once (then: alive, the safe side)
    pid = int(child.stdout)
    assert pid_alive(pid) is _exists(pid)


def _exists(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}") if os.path.isdir("/proc") else False
