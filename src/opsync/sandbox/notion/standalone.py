"""``opsync sandbox notion``: serve the Notion simulator in the foreground."""

from __future__ import annotations

from opsync.clock import SystemClock
from opsync.sandbox._server import run_forever
from opsync.sandbox.notion.app import NotionSimulator
from opsync.sandbox.notion.faults import NOTION_RATE
from opsync.sandbox.notion.seed_schema import seed_databases
from opsync.sandbox.notion.state import NotionState


def build(api_key: str | None, seed_databases_: bool) -> tuple[NotionSimulator, list[str]]:
    """The simulator (pacing on) and the env lines describing its seeded databases."""
    state = NotionState(SystemClock())
    lines: list[str] = []
    if seed_databases_:
        lines = seed_databases(state).env_lines()
    simulator = NotionSimulator(state, api_key=api_key, rate_limit=NOTION_RATE)
    return simulator, lines


def run(host: str, port: int, api_key: str | None, seed_databases: bool) -> None:
    """Print the base URL (and with ``seed_databases`` the database ids), then serve forever."""
    simulator, lines = build(api_key, seed_databases)
    print(f"OPSYNC_NOTION_BASE_URL=http://{host}:{port}", flush=True)
    for line in lines:
        print(line, flush=True)
    run_forever(simulator.app, host, port)
