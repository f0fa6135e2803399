"""``opsync doctor`` against both simulators and a running service: everything set up passes
(exit 0); a wrong OpenPhone key, a missing database or no webhook fails its own line with the
fix (exit 1); no key is ever printed. The scheduler's verdict is also checked as a table."""

from __future__ import annotations

import asyncio
import io
import json
import shlex
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from opsync._uvicorn import bind_socket, bound_port
from opsync.cli.doctor import diagnose
from opsync.cli.main import app
from opsync.config import Settings, load_settings
from opsync.demo import DemoOptions, run_demo
from opsync.doctor import scheduler_verdict
from opsync.sandbox._server import serve
from opsync.sandbox.notion import NotionSimulator, NotionState, seed_databases
from opsync.sandbox.openphone import (
    OpenPhoneSimulator,
    SimulatorConfig,
    WorkspaceSize,
    generate_workspace,
)
from opsync.service import open_service
from opsync.store import Store
from tests.support.sandbox_env import API_KEY, NOTION_TOKEN, sandbox_environ
from tests.support.threaded import serve_in_thread

SIZE = WorkspaceSize(
    phone_numbers=1,
    users=1,
    contacts=1,
    counterparts_per_number=1,
    calls_per_counterpart=1,
    messages_per_counterpart=1,
    days=1,
)
EVERY_CHECK = [
    "settings",
    "OpenPhone API key",
    "Notion API key",
    "Notion Canvas database",
    "Notion Calls database",
    "Notion Messages database",
    "store",
    "blob store",
    "webhooks",
    "scheduler",
    "dead letters",
]

runner = CliRunner()


@contextmanager
def service_in_thread(settings: Settings, port: int) -> Iterator[None]:
    """``open_service`` on its own loop and thread, its app served on ``port``, after one
    scheduler tick (what ``opsync serve`` does at its first start)."""
    ready = threading.Event()
    failure: list[BaseException] = []
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def main() -> None:
        try:
            async with open_service(settings) as service:
                assert service.app is not None
                assert service.scheduler is not None
                await service.scheduler.tick()
                sock = bind_socket("127.0.0.1", port)
                async with serve(service.app, sock=sock):
                    ready.set()
                    await stop.wait()
        except BaseException as exc:
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    try:
        if not ready.wait(20) or failure:
            raise RuntimeError(f"the service did not start: {failure!r}")
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(20)
        loop.close()


@dataclass
class Installation:
    openphone: OpenPhoneSimulator
    env: dict[str, str]
    data_dir: Path

    def doctor(self, *args: str, **env: str) -> Any:
        return runner.invoke(app, ["doctor", *args], env={**self.env, **env})

    def checks(self, **env: str) -> tuple[int, dict[str, dict[str, Any]]]:
        result = self.doctor("--json", **env)
        return result.exit_code, {c["name"]: c for c in json.loads(result.stdout)}

    def secrets(self) -> list[str]:
        """Every key an output must not show: webhook signing keys, API keys, media key."""
        hooks = [str(h["key"]) for h in self.openphone.workspace.webhooks.values()]
        media = (self.data_dir / "media" / ".signing-key").read_text().strip()
        return [*hooks, API_KEY, NOTION_TOKEN, media]


@pytest.fixture
def installation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Installation]:
    """Both simulators, webhooks registered with `opsync webhooks register`, and the service
    running with the stored keys (no WEBHOOK_SECRET) at OPSYNC_PUBLIC_BASE_URL."""
    monkeypatch.chdir(tmp_path)  # no stray .env or opsync.toml
    workspace = generate_workspace(seed=5, now=time.time(), size=SIZE)
    openphone = OpenPhoneSimulator(workspace, SimulatorConfig(api_key=API_KEY, rate_limit=1_000))
    notion = NotionSimulator(NotionState(seed=3), rate_limit=None)
    seeded = seed_databases(notion.state)
    probe = bind_socket("127.0.0.1")
    port = bound_port(probe)
    probe.close()
    with serve_in_thread(openphone.app) as op_url, serve_in_thread(notion.app) as notion_url:
        env = sandbox_environ(
            openphone_url=op_url,
            notion_url=notion_url,
            seeded=seeded,
            data_dir=tmp_path,
            public_base_url=f"http://127.0.0.1:{port}",
        )
        registered = runner.invoke(app, ["webhooks", "register"], env=env)
        assert registered.exit_code == 0, registered.output
        with service_in_thread(load_settings(env), port):
            yield Installation(openphone, env, tmp_path)


def test_everything_set_up_passes_and_prints_no_secret(installation: Installation) -> None:
    result = installation.doctor()
    code, checks = installation.checks()

    assert result.exit_code == 0, result.output
    assert code == 0
    assert list(checks) == EVERY_CHECK
    assert all(c["ok"] and c["fix"] is None for c in checks.values()), checks
    lines = result.stdout.splitlines()
    assert len(lines) == len(EVERY_CHECK) + 1
    assert all(line.startswith("pass  ") for line in lines[:-1])
    assert lines[-1] == f"{len(EVERY_CHECK)} of {len(EVERY_CHECK)} checks passed"
    for secret in installation.secrets():
        assert secret not in result.output


def test_a_wrong_openphone_key_fails_its_line_with_the_fix(installation: Installation) -> None:
    result = installation.doctor(OPENPHONE_API_KEY="not-the-key")
    code, checks = installation.checks(OPENPHONE_API_KEY="not-the-key")

    assert result.exit_code == 1
    assert code == 1
    failing = {name for name, c in checks.items() if not c["ok"]}
    assert failing == {"OpenPhone API key", "webhooks"}
    assert "OPENPHONE_API_KEY" in checks["OpenPhone API key"]["fix"]
    line = next(x for x in result.stdout.splitlines() if "OpenPhone API key" in x)
    assert line.startswith("FAIL")
    assert "fix: set OPENPHONE_API_KEY" in line
    assert "not-the-key" not in result.output
    for secret in installation.secrets():
        assert secret not in result.output


def test_a_missing_database_fails_its_line_with_the_fix(installation: Installation) -> None:
    absent = uuid.uuid4().hex
    result = installation.doctor(NOTION_MESSAGES_DATABASE_ID=absent)
    code, checks = installation.checks(NOTION_MESSAGES_DATABASE_ID=absent)

    assert result.exit_code == 1
    assert code == 1
    failing = {name for name, c in checks.items() if not c["ok"]}
    assert failing == {"Notion Messages database"}
    messages = checks["Notion Messages database"]
    assert "not found" in messages["detail"]
    assert "NOTION_MESSAGES_DATABASE_ID" in messages["fix"]
    assert "share" in messages["fix"]
    for secret in installation.secrets():
        assert secret not in result.output


def test_no_webhook_fails_its_line_with_the_register_command(
    installation: Installation,
) -> None:
    unregistered = runner.invoke(app, ["webhooks", "unregister"], env=installation.env)
    assert unregistered.exit_code == 0, unregistered.output

    result = installation.doctor()
    code, checks = installation.checks()

    assert result.exit_code == 1
    assert code == 1
    assert {name for name, c in checks.items() if not c["ok"]} == {"webhooks"}
    url = installation.env["OPSYNC_PUBLIC_BASE_URL"] + "/webhooks/openphone"
    assert checks["webhooks"]["fix"] == f"run `opsync webhooks register --url {url}`"
    for secret in installation.secrets():
        assert secret not in result.output


def test_without_a_store_or_keys_the_dependent_lines_fail(tmp_path: Path) -> None:
    env = {
        "OPENPHONE_API_KEY": "",
        "NOTION_API_KEY": "",
        "NOTION_CALLS_DATABASE_ID": "",
        "NOTION_MESSAGES_DATABASE_ID": "",
        "OPSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'absent.db'}",
        "OPSYNC_BLOB_URL": str(tmp_path / "media"),
        "OPSYNC_PUBLIC_BASE_URL": "",
    }
    result = runner.invoke(app, ["doctor", "--json"], env=env)

    assert result.exit_code == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert not any(c["ok"] for c in checks.values())
    assert "OPENPHONE_API_KEY" in checks["settings"]["detail"]
    assert checks["store"]["fix"].startswith("run `opsync db migrate`")
    assert not (tmp_path / "absent.db").exists()  # the doctor looks, it creates nothing
    assert "OPSYNC_PUBLIC_BASE_URL" in checks["blob store"]["fix"]


T = datetime(2026, 4, 1, 12, 5, tzinfo=UTC)
EVERY_6H = "0 */6 * * *"


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.mark.parametrize(
    ("last", "now", "ok", "words"),
    [
        (None, T, False, "never run"),
        (datetime(2026, 4, 1, 12, 0, tzinfo=UTC), T, True, "next at 2026-04-01 18:00"),
        (datetime(2026, 4, 1, 6, 0, tzinfo=UTC), T, True, "is starting"),  # 5 min in: grace
        (datetime(2026, 4, 1, 6, 0, tzinfo=UTC), T + timedelta(hours=1), False, "did not happen"),
        (datetime(2026, 3, 30, 0, 0, tzinfo=UTC), T, True, "is starting"),
    ],
)
def test_scheduler_verdict(last: datetime | None, now: datetime, ok: bool, words: str) -> None:
    check = scheduler_verdict(None if last is None else ms(last), EVERY_6H, now)

    assert check.ok is ok
    assert words in check.detail
    assert (check.fix is None) is ok


@pytest.mark.timeout(60)
async def test_demo_serve_prints_a_doctor_command_that_passes(tmp_path: Path) -> None:
    output = io.StringIO()
    console = Console(file=output, width=300)
    options = DemoOptions(
        calls=2,
        messages=3,
        compression=1000.0,
        data_dir=tmp_path / "demo",
        serve=True,
        drain_timeout=20.0,
    )
    demo = asyncio.create_task(run_demo(options, console=console))
    try:
        async with asyncio.timeout(40):
            while "  opsync doctor" not in output.getvalue():
                if demo.done():
                    demo.result()
                    raise AssertionError(f"the demo ended: {output.getvalue()}")
                await asyncio.sleep(0.05)
            async with await Store.open(options.database_url) as store:
                # The demo's scheduler fires as soon as it serves; the store has no event.
                while (await store.scheduler_last_period("sync")) is None:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        exports = [
            line.strip().removeprefix("export ").split("=", 1)
            for line in output.getvalue().splitlines()
            if line.strip().startswith("export ")
        ]
        environ = {name: shlex.split(value)[0] for name, value in exports}
        checks = await diagnose(load_settings(environ))
    finally:
        demo.cancel()
        with suppress(asyncio.CancelledError):
            await demo

    assert [c.name for c in checks] == EVERY_CHECK
    assert [c for c in checks if not c.ok] == []
    assert "WEBHOOK_SECRET" not in environ  # the service verifies with the stored keys
