"""Backends for the store's contract suite: SQLite in a temporary file, always; PostgreSQL when
``OPSYNC_TEST_POSTGRES_URL`` is set, each test in a schema of its own, dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from opsync.clock import Clock
from opsync.store import Store, normalize_url

PG_URL_VARIABLE = "OPSYNC_TEST_POSTGRES_URL"


@dataclass(frozen=True)
class Backend:
    """Where a test's store lives; :meth:`open` gives a store on it."""

    name: str
    url: str
    pg_schema: str | None = None

    async def open(self, *, clock: Clock | None = None, migrate: bool = True) -> Store:
        return await Store.open(self.url, clock=clock, migrate=migrate, pg_schema=self.pg_schema)


@pytest.fixture(params=["sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", f"sqlite:///{tmp_path / 'opsync.db'}")
        return
    url = os.environ.get(PG_URL_VARIABLE)
    if not url:
        pytest.skip(f"{PG_URL_VARIABLE} is not set; PostgreSQL half of the contract not run")
    schema = f"opsync_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(normalize_url(url))
    try:
        async with admin.begin() as conn:
            await conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        yield Backend("postgresql", url, pg_schema=schema)
    finally:
        async with admin.begin() as conn:
            await conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await admin.dispose()


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    opened = await backend.open()
    try:
        yield opened
    finally:
        await opened.close()
