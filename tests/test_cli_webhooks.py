"""``opsync webhooks register | list | unregister`` against the OpenPhone simulator over real
HTTP, and ``opsync serve`` (the app :func:`open_service` builds) verifying with stored keys."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from opsync.cli.main import app
from opsync.config import load_settings
from opsync.errors import ConfigError
from opsync.openphone import OpenPhoneClient
from opsync.openphone.subscriptions import HANDLED_EVENTS, WEBHOOK_FAMILIES, register_webhooks
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
from tests.support.sandbox_env import API_KEY, sandbox_environ
from tests.support.threaded import serve_in_thread
from tests.web.support import call, legacy_envelope, legacy_signed

PUBLIC = "https://opsync.example"
URL = PUBLIC + "/webhooks/openphone"
OTHER_URL = "https://elsewhere.example/hooks"
SIZE = WorkspaceSize(
    phone_numbers=1,
    users=1,
    contacts=1,
    counterparts_per_number=1,
    calls_per_counterpart=1,
    messages_per_counterpart=1,
    days=1,
)

runner = CliRunner()


@dataclass
class World:
    openphone: OpenPhoneSimulator
    env: dict[str, str]
    database_url: str

    def live(self, url: str | None = None) -> list[dict[str, Any]]:
        return [
            hook
            for hook in self.openphone.workspace.webhooks.values()
            if hook["deletedAt"] is None and (url is None or hook["url"] == url)
        ]

    def invoke(self, *args: str) -> Any:
        return runner.invoke(app, list(args), env=self.env)

    def stored(self) -> dict[str, str]:
        async def read() -> dict[str, str]:
            async with await Store.open(self.database_url) as store:
                return {h.webhook_id: h.signing_key for h in await store.webhooks_stored()}

        return asyncio.run(read())

    def create(self, family: str, url: str, events: list[str], label: str = "opsync") -> str:
        async def go() -> str:
            async with httpx.AsyncClient() as http:
                client = OpenPhoneClient(http, API_KEY, base_url=self.env["OPENPHONE_API_BASE"])
                hook = await client.create_webhook(family, url, events, label=label)  # type: ignore[arg-type]
                return hook.id

        return asyncio.run(go())


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    workspace = generate_workspace(seed=3, now=time.time(), size=SIZE)
    openphone = OpenPhoneSimulator(workspace, SimulatorConfig(api_key=API_KEY, rate_limit=1_000))
    notion = NotionSimulator(NotionState(seed=2), rate_limit=None)
    seeded = seed_databases(notion.state)
    with serve_in_thread(openphone.app) as op_url, serve_in_thread(notion.app) as notion_url:
        env = sandbox_environ(
            openphone_url=op_url,
            notion_url=notion_url,
            seeded=seeded,
            data_dir=tmp_path,
            public_base_url=PUBLIC,
        )
        yield World(openphone, env, env["OPSYNC_DATABASE_URL"])


def no_key_in(keys: list[str], *outputs: str) -> None:
    for key in keys:
        for output in outputs:
            assert key not in output


def test_register_twice_makes_one_set_of_webhooks_and_keeps_the_keys(world: World) -> None:
    first = world.invoke("webhooks", "register")

    assert first.exit_code == 0, first.output
    hooks = world.live(URL)
    assert sorted(family for h in hooks for family, events in WEBHOOK_FAMILIES.items()
                  if set(h["events"]) == set(events)) == sorted(WEBHOOK_FAMILIES)  # fmt: skip
    assert {e for h in hooks for e in h["events"]} == HANDLED_EVENTS
    assert all(h["resourceIds"] == ["*"] and h["status"] == "enabled" for h in hooks)
    keys = {h["id"]: h["key"] for h in hooks}
    assert world.stored() == keys

    second = world.invoke("webhooks", "register")

    assert second.exit_code == 0, second.output
    assert "Nothing to change" in second.output
    assert {h["id"]: h["key"] for h in world.live()} == keys
    assert world.stored() == keys

    listed = world.invoke("webhooks", "list", "--json")
    table = world.invoke("webhooks", "list")

    assert listed.exit_code == 0, listed.output
    assert table.exit_code == 0, table.output
    document = json.loads(listed.stdout)
    assert document["this_url"] == URL
    assert sorted(v["id"] for v in document["webhooks"]) == sorted(keys)
    for view in document["webhooks"]:
        assert view["points_here"]
        assert view["complete"]
        assert view["status"] == "enabled"
        assert view["key_stored"]
        assert view["key_matches"]
        assert view["key_fingerprint"].startswith("sha256:")
    assert all(webhook_id in table.stdout for webhook_id in keys)
    no_key_in(list(keys.values()), first.output, second.output, listed.output, table.output)


def test_register_replaces_incomplete_and_duplicate_webhooks_only_at_its_url(
    world: World,
) -> None:
    partial = world.create("calls", URL, ["call.completed"])
    kept = world.create("messages", URL, ["message.received", "message.delivered"])
    duplicate = world.create("messages", URL, ["message.received", "message.delivered"])
    foreign = world.create("calls", OTHER_URL, ["call.completed"], label="someone else")

    result = world.invoke("webhooks", "register")

    assert result.exit_code == 0, result.output
    live = {h["id"] for h in world.live()}
    assert partial not in live
    assert duplicate not in live
    assert kept in live
    assert foreign in live
    here = world.live(URL)
    assert len(here) == len(WEBHOOK_FAMILIES)
    assert {e for h in here for e in h["events"]} == HANDLED_EVENTS
    assert world.stored() == {h["id"]: h["key"] for h in here}
    assert f"deleted  {partial}" in result.output
    assert f"kept     {kept}" in result.output


def test_unregister_deletes_the_webhooks_and_their_keys(world: World) -> None:
    assert world.invoke("webhooks", "register").exit_code == 0
    demo = world.create("call-summaries", OTHER_URL, ["call.summary.completed"], "opsync demo")
    foreign = world.create("calls", OTHER_URL, ["call.completed"], label="zapier")
    keys = [h["key"] for h in world.live()]

    both = world.invoke("webhooks", "unregister", "--url", URL, "--all-opsync")
    assert both.exit_code == 2

    here = world.invoke("webhooks", "unregister")

    assert here.exit_code == 0, here.output
    assert f"deleted 4 webhooks at {URL}" in here.output
    assert world.live(URL) == []
    assert world.stored() == {}
    assert {h["id"] for h in world.live()} == {demo, foreign}

    everything = world.invoke("webhooks", "unregister", "--all-opsync")

    assert everything.exit_code == 0, everything.output
    assert {h["id"] for h in world.live()} == {foreign}
    listed = world.invoke("webhooks", "list")
    assert listed.exit_code == 0
    assert foreign in listed.stdout
    no_key_in(keys, here.output, everything.output, listed.output)


def test_register_without_a_url_exits_2_naming_the_setting(world: World) -> None:
    env = {**world.env, "OPSYNC_PUBLIC_BASE_URL": ""}
    result = runner.invoke(app, ["webhooks", "register"], env=env)

    assert result.exit_code == 2
    assert "OPSYNC_PUBLIC_BASE_URL" in result.output
    assert world.live() == []

    bad = runner.invoke(app, ["webhooks", "register", "--url", "ftp://x/y"], env=env)
    assert bad.exit_code == 2
    assert "not an absolute http(s) URL" in bad.output


async def test_serve_verifies_deliveries_signed_with_a_stored_key(tmp_path: Path) -> None:
    workspace = generate_workspace(seed=4, now=time.time(), size=SIZE)
    openphone = OpenPhoneSimulator(workspace, SimulatorConfig(api_key=API_KEY, rate_limit=1_000))
    notion = NotionSimulator(NotionState(seed=2), rate_limit=None)
    seeded = seed_databases(notion.state)
    async with (
        serve(openphone.app) as op_url,
        serve(notion.app) as notion_url,
        httpx.AsyncClient() as http,
    ):
        environ = sandbox_environ(
            openphone_url=op_url,
            notion_url=notion_url,
            seeded=seeded,
            data_dir=tmp_path,
            public_base_url=PUBLIC,
        )
        settings = load_settings(environ)
        assert settings.webhook_keys() == []
        with pytest.raises(ConfigError) as refused:
            async with open_service(settings):
                pass
        assert refused.value.variable == "WEBHOOK_SECRET"
        assert "opsync webhooks register" in str(refused.value)

        async with await Store.open(settings.database_url) as store:
            client = OpenPhoneClient(http, API_KEY, base_url=f"{op_url}/v1")
            await register_webhooks(client, store, URL)
            [key, *_] = await store.webhook_signing_keys()

        async with open_service(settings) as service:
            assert service.app is not None
            transport = httpx.ASGITransport(app=service.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as web:
                body = legacy_envelope("call.completed", call("ACstored", "PNx"), "EVstored")
                now_ms = int(time.time() * 1000)
                signed = await web.post(
                    "/webhooks/openphone", content=body, headers=legacy_signed(body, now_ms, key)
                )
                stranger = secrets.token_bytes(32).hex()[:44]
                forged = await web.post(
                    "/webhooks/openphone",
                    content=body,
                    headers=legacy_signed(body, now_ms, _b64(stranger)),
                )

    assert signed.status_code == 202, signed.text
    assert forged.status_code == 401


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()
