"""A PostgreSQL cluster of a test's own (initdb + pg_ctl on a free port) that the test may
stop and start without disturbing anyone else's database: the store going away and coming
back (``tests/e2e/conftest.py`` serves it as the ``private_postgres`` fixture)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of this test's own, on a free port, that it may stop and start
    without disturbing anyone else's database."""

    data: Path
    port: int
    as_user: list[str]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        pg_ctl = str(shutil.which("pg_ctl"))
        command = [*self.as_user, pg_ctl, "-D", str(self.data), "-w", "-t", "30", *args]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("-o", options, "-l", str(self.data / "server.log"), "start")

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "stop")


@contextmanager
def private_cluster() -> Iterator[PrivatePostgres]:
    """initdb + pg_ctl as the current user; as root (initdb refuses root), as ``postgres``
    through ``runuser``. Skips the test when neither is possible; the cluster is started,
    and stopped and deleted on exit."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("restarting PostgreSQL needs initdb and pg_ctl on PATH")
    as_user: list[str] = []
    owner: tuple[int, int] | None = None
    if os.geteuid() == 0:
        import pwd

        runuser = shutil.which("runuser")
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            account = None
        if runuser is None or account is None:
            pytest.skip("as root, a private cluster needs runuser and a postgres account")
        as_user = [runuser, "-u", "postgres", "--"]
        owner = (account.pw_uid, account.pw_gid)
    root = Path(tempfile.mkdtemp(prefix="opsync-pg-"))
    data = root / "data"
    data.mkdir(mode=0o700)
    if owner is not None:
        os.chown(root, *owner)
        os.chown(data, *owner)
    init = [*as_user, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
    subprocess.run(init, check=True, capture_output=True, timeout=120)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cluster = PrivatePostgres(data, port, as_user)
    cluster.start()
    try:
        yield cluster
    finally:
        subprocess.run(
            [*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)
