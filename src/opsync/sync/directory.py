"""What opsync knows about the workspace itself: its own numbers, users and contacts.

The own numbers come from OpenPhone's phone-numbers API (never from configuration): they are
what a Canvas link must never point at, and they give a call page its ``Phone Number Used``.
Users and contacts name transcript speakers. Each list is fetched once and cached; the phone
numbers are fetched again when an unknown phone number id shows up (a number added since),
at most once per ``refresh_after`` seconds. Without ``metrics`` of its own, the directory
takes the :class:`~opsync.sync.context.SyncContext`'s.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from opsync.clock import Clock, SystemClock
from opsync.openphone import OpenPhoneClient
from opsync.openphone.models import PhoneNumber
from opsync.render import to_e164
from opsync.render.state import user_names
from opsync.sync.metrics import Metrics


class Directory:
    """Cached look-ups of the workspace's phone numbers, user names and contact names."""

    def __init__(
        self,
        openphone: OpenPhoneClient,
        *,
        metrics: Metrics | None = None,
        clock: Clock | None = None,
        refresh_after: float = 300.0,
    ) -> None:
        self._openphone = openphone
        self.metrics = metrics
        self._clock: Clock = clock or SystemClock()
        self._refresh_after = refresh_after
        self._numbers: dict[str, PhoneNumber] | None = None
        self._numbers_at = 0.0
        self._users: dict[str, str] | None = None
        self._contacts: dict[str, str] | None = None
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def _timed(self, operation: str) -> AsyncIterator[None]:
        if self.metrics is None:
            yield
            return
        async with self.metrics.timed("api_call", operation):
            yield

    async def _load_numbers(self) -> dict[str, PhoneNumber]:
        async with self._timed("list_phone_numbers"):
            numbers = await self._openphone.list_phone_numbers()
        self._numbers_at = self._clock.monotonic()
        return {number.id: number for number in numbers}

    async def phone_numbers(self) -> dict[str, PhoneNumber]:
        """The workspace's numbers by id (fetched on first use)."""
        async with self._lock:
            if self._numbers is None:
                self._numbers = await self._load_numbers()
            return self._numbers

    async def phone_number(self, phone_number_id: str) -> PhoneNumber | None:
        """One of the workspace's numbers; an unknown id refreshes the list (rate-limited)."""
        numbers = await self.phone_numbers()
        if phone_number_id in numbers:
            return numbers[phone_number_id]
        async with self._lock:
            if self._clock.monotonic() - self._numbers_at >= self._refresh_after:
                self._numbers = await self._load_numbers()
            assert self._numbers is not None
            return self._numbers.get(phone_number_id)

    async def own_numbers(self) -> list[str]:
        """Every own number in E.164."""
        numbers = await self.phone_numbers()
        return [e164 for e164 in (to_e164(n.number) for n in numbers.values()) if e164]

    async def user_names(self) -> dict[str, str]:
        """User id → display name."""
        async with self._lock:
            if self._users is None:
                async with self._timed("list_users"):
                    users = [user async for user in self._openphone.list_users()]
                self._users = user_names(users)
            return self._users

    async def contact_names(self) -> dict[str, str]:
        """E.164 number → contact name (first and last name, else company)."""
        async with self._lock:
            if self._contacts is None:
                async with self._timed("list_contacts"):
                    contacts = [c async for c in self._openphone.list_contacts()]
                names: dict[str, str] = {}
                for contact in contacts:
                    fields = contact.default_fields
                    parts = (fields.first_name, fields.last_name)
                    name = " ".join(p for p in parts if p and p.strip()) or fields.company
                    if not name:
                        continue
                    for entry in fields.phone_numbers:
                        e164 = to_e164(entry.value)
                        if e164 is not None:
                            names.setdefault(e164, name)
                self._contacts = names
            return self._contacts
