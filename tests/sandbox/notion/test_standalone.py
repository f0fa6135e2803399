"""``opsync sandbox notion``: the seeded databases are printed, then the app is served."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from opsync.sandbox.notion import NotionSimulator, standalone
from opsync.sandbox.notion.faults import NOTION_RATE


def test_run_prints_env_lines_and_serves(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served: dict[str, Any] = {}

    def fake_run_forever(app: Any, host: str, port: int) -> None:
        served.update(app=app, host=host, port=port)

    monkeypatch.setattr(standalone, "run_forever", fake_run_forever)
    standalone.run(host="127.0.0.1", port=8702, api_key="secret_only", seed_databases=True)

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "OPSYNC_NOTION_BASE_URL=http://127.0.0.1:8702"
    names = [line.split("=", 1)[0] for line in lines[1:]]
    assert names == [
        "NOTION_CALLS_DATABASE_ID",
        "NOTION_MESSAGES_DATABASE_ID",
        "NOTION_CANVAS_DATABASE_ID",
    ]
    assert (served["host"], served["port"]) == ("127.0.0.1", 8702)


async def test_built_simulator_is_paced_and_seeded() -> None:
    simulator, lines = standalone.build(api_key="secret_only", seed_databases_=True)
    assert isinstance(simulator, NotionSimulator)
    assert simulator.limiter is not None
    assert simulator.limiter.limit == NOTION_RATE
    calls_db = lines[0].split("=", 1)[1]
    transport = httpx.ASGITransport(app=simulator.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        headers = {"Notion-Version": "2025-09-03", "Authorization": "Bearer secret_only"}
        found = await client.get(f"/v1/databases/{calls_db}", headers=headers)
        wrong = await client.get(
            f"/v1/databases/{calls_db}", headers={**headers, "Authorization": "Bearer other"}
        )
    assert found.json()["data_sources"][0]["name"] == "Calls"
    assert wrong.status_code == 401
    empty, no_lines = standalone.build(api_key=None, seed_databases_=False)
    assert no_lines == []
    assert empty.state.databases == {}
