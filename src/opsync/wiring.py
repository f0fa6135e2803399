"""Where collaborators are built from settings: the one place that wires opsync together.

Commands and the service call these builders; tests build the same parts around a simulator
or hand their own collaborators to the parts directly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from opsync.config import Settings
from opsync.openphone import OpenPhoneClient
from opsync.store import Store

HTTP_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[Store]:
    """The store at ``OPSYNC_DATABASE_URL``, migrated; closed on exit."""
    store = await Store.open(settings.database_url)
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def openphone_client(settings: Settings) -> AsyncIterator[OpenPhoneClient]:
    """An OpenPhone client for ``OPENPHONE_API_KEY`` at ``OPENPHONE_API_BASE``.

    Raises :class:`~opsync.errors.ConfigError` when the key is not set.
    """
    api_key = settings.secret("openphone_api_key")
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http:
        yield OpenPhoneClient(http, api_key, base_url=settings.openphone_api_base)
