"""A Notion API simulator (version 2025-09-03) for the demo, tests and benchmarks.

simulator = NotionSimulator(clock=FakeClock(), rate_limit=None)
ids = seed_databases(simulator.state)
async with serve(simulator.app) as base_url: ...
"""

from opsync.sandbox.notion.app import NotionSimulator, create_app
from opsync.sandbox.notion.errors import NotionError
from opsync.sandbox.notion.faults import NOTION_RATE, FaultConfig, RequestCounter
from opsync.sandbox.notion.seed_schema import SeededDatabases, seed_databases
from opsync.sandbox.notion.state import NotionState

__all__ = [
    "NOTION_RATE",
    "FaultConfig",
    "NotionError",
    "NotionSimulator",
    "NotionState",
    "RequestCounter",
    "SeededDatabases",
    "create_app",
    "seed_databases",
]
