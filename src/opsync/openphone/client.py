"""Async client of the OpenPhone v1 REST API: paced, retried, typed.

Every request to the API first awaits ``pacer.acquire()``. Transient failures (429, 408,
5xx, timeouts, connection errors) are retried with exponential backoff and jitter; a 429
pauses the pacer (by ``Retry-After`` when sent, else by the backoff delay) so that every task
sharing it backs off. Requests that are not idempotent (POST) are retried only when they
certainly did not reach OpenPhone (429, connection failures). After the last attempt the
transient error is raised. Failures are mapped in :mod:`opsync.openphone._errors`.
An optional ``on_request`` hook hears of every attempt (:mod:`opsync.observability.hooks`).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from opsync.clock import Clock, SystemClock
from opsync.errors import InvalidPayload, NotFound, RateLimited, TransientError
from opsync.observability.hooks import RequestHook, observed
from opsync.openphone._errors import (
    ConnectionFailed,
    openphone_errors,
    response_data,
    response_list,
    validate,
)
from opsync.openphone.models import (
    Call,
    CallRecording,
    CallSummary,
    CallTranscript,
    CallVoicemail,
    Contact,
    Conversation,
    Message,
    PhoneNumber,
    User,
    Webhook,
)
from opsync.pacing import OPENPHONE_LIMIT, Pacer, TokenBucket
from opsync.retry import RetryPolicy

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.openphone.com/v1"
WebhookFamily = Literal["calls", "messages", "call-summaries", "call-transcripts"]
Params = dict[str, str | list[str]]


def _timestamp(value: datetime, name: str) -> str:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _add_filters(
    params: Params, after: datetime | None, before: datetime | None, user_id: str | None
) -> None:
    if after is not None:
        params["createdAfter"] = _timestamp(after, "created_after")
    if before is not None:
        params["createdBefore"] = _timestamp(before, "created_before")
    if user_id:
        params["userId"] = user_id


def _page_size(value: int, limit: int) -> str:
    if not 1 <= value <= limit:
        raise ValueError(f"page_size must be between 1 and {limit}, not {value}")
    return str(value)


def _id(value: str) -> str:
    if not value:
        raise ValueError("an id must not be empty")
    return quote(value, safe="")


class OpenPhoneClient:
    """The OpenPhone v1 API. Share one instance (and its pacer) per API key.

    Methods raise AuthError, NotFound, InvalidPayload (including OpenPhoneRequestError for
    other 4xx) or, after the retries, RateLimited / UpstreamUnavailable. Reads are idempotent.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        pacer: Pacer | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        on_request: RequestHook | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        self._http = http
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self._clock = clock or SystemClock()
        self._pacer = pacer or TokenBucket(OPENPHONE_LIMIT, self._clock)
        self._retry = retry or RetryPolicy()
        self._rng = rng or random.Random()
        self._on_request = on_request

    def __repr__(self) -> str:
        return f"OpenPhoneClient(base_url={self._base_url!r})"

    # -- transport -------------------------------------------------------------------------

    def _is_api(self, url: httpx.URL) -> bool:
        base = httpx.URL(self._base_url)
        return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)

    async def _with_retries(
        self, request: str, attempt: Callable[[], Awaitable[T]], *, paced: bool, idempotent: bool
    ) -> T:
        for number in range(self._retry.max_attempts):
            if paced:
                await self._pacer.acquire()
            try:
                with (
                    openphone_errors(request, secret=self._api_key),
                    observed(self._on_request, request),
                ):
                    return await attempt()
            except TransientError as exc:
                retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
                delay = self._retry.delay(number, self._rng, retry_after)
                if isinstance(exc, RateLimited) and paced:
                    self._pacer.pause(delay)  # every task on this key waits, not just us
                retryable = idempotent or isinstance(exc, RateLimited | ConnectionFailed)
                too_long = retry_after is not None and retry_after > self._retry.cap
                if not retryable or too_long or self._retry.gives_up_after(number):
                    raise
                if not (isinstance(exc, RateLimited) and paced):
                    await self._clock.sleep(delay)
        raise AssertionError("unreachable: RetryPolicy.max_attempts must be >= 1")

    async def _call(
        self, method: str, path: str, *, params: Params | None = None, json: Any = None
    ) -> Any:
        """One API request with pacing and retries; the decoded JSON body (None for 204)."""
        request = f"{method} {path}"
        headers = {"Authorization": self._api_key, "Accept": "application/json"}

        async def attempt() -> Any:
            response = await self._http.request(
                method, self._base_url + path, params=params, json=json, headers=headers
            )
            response.raise_for_status()
            return None if response.status_code == 204 or not response.content else response.json()

        return await self._with_retries(request, attempt, paced=True, idempotent=method != "POST")

    async def _get_one(self, path: str, model: type[M], params: Params | None = None) -> M:
        body = await self._call("GET", path, params=params)
        return validate(model, response_data(body, f"GET {path}"), "data")

    async def _get_list(self, path: str, model: type[M], params: Params | None = None) -> list[M]:
        body = await self._call("GET", path, params=params)
        items = response_list(body, f"GET {path}")
        return [validate(model, item, f"data.{index}") for index, item in enumerate(items)]

    async def _paginate(self, path: str, model: type[M], params: Params) -> AsyncIterator[M]:
        """Stream a paginated list, one page in memory; every filter is kept on every page."""
        seen: set[str] = set()
        token: str | None = None
        while True:
            page_params: Params = dict(params) if token is None else {**params, "pageToken": token}
            body = await self._call("GET", path, params=page_params)
            items = response_list(body, f"GET {path}")
            token = body.get("nextPageToken")
            if token is not None and not isinstance(token, str):
                raise InvalidPayload(f"OpenPhone GET {path}: nextPageToken is not a string")
            for index, item in enumerate(items):
                yield validate(model, item, f"data.{index}")
            del items, body
            if not token:
                return
            if token in seen:
                raise InvalidPayload(
                    f"OpenPhone GET {path}: nextPageToken repeated; stopped to avoid a loop"
                )
            seen.add(token)

    # -- phone numbers and users ------------------------------------------------------------

    async def list_phone_numbers(self, user_id: str | None = None) -> list[PhoneNumber]:
        params: Params = {"userId": user_id} if user_id else {}
        return await self._get_list("/phone-numbers", PhoneNumber, params)

    async def get_phone_number(self, phone_number_id: str) -> PhoneNumber:
        return await self._get_one(f"/phone-numbers/{_id(phone_number_id)}", PhoneNumber)

    def list_users(self, *, page_size: int = 50) -> AsyncIterator[User]:
        return self._paginate("/users", User, {"maxResults": _page_size(page_size, 50)})

    async def get_user(self, user_id: str) -> User:
        return await self._get_one(f"/users/{_id(user_id)}", User)

    # -- calls ------------------------------------------------------------------------------

    def list_calls(
        self,
        phone_number_id: str,
        participant: str,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        page_size: int = 100,
        *,
        user_id: str | None = None,
    ) -> AsyncIterator[Call]:
        """Calls between one of our numbers and one other party (v1 allows exactly one)."""
        params: Params = {
            "phoneNumberId": phone_number_id,
            "participants": [participant],
            "maxResults": _page_size(page_size, 100),
        }
        _add_filters(params, created_after, created_before, user_id)
        return self._paginate("/calls", Call, params)

    async def get_call(self, call_id: str) -> Call:
        return await self._get_one(f"/calls/{_id(call_id)}", Call)

    async def get_call_recordings(self, call_id: str) -> list[CallRecording]:
        """Recording segments, oldest first; empty when the call has none."""
        return await self._get_list(f"/call-recordings/{_id(call_id)}", CallRecording)

    async def get_call_summary(self, call_id: str) -> CallSummary | None:
        """The AI summary; None on 404 ("not ready yet" may also be a ``status`` object)."""
        try:
            return await self._get_one(f"/call-summaries/{_id(call_id)}", CallSummary)
        except NotFound:
            return None

    async def get_call_transcript(self, call_id: str) -> CallTranscript | None:
        """The transcript; None on 404 ("not ready yet" may also be a ``status`` object)."""
        try:
            return await self._get_one(f"/call-transcripts/{_id(call_id)}", CallTranscript)
        except NotFound:
            return None

    async def get_call_voicemail(self, call_id: str) -> CallVoicemail | None:
        """The voicemail; None on 404 (no voicemail, or not ready; fields null while pending)."""
        try:
            return await self._get_one(f"/call-voicemails/{_id(call_id)}", CallVoicemail)
        except NotFound:
            return None

    # -- messages, conversations, contacts --------------------------------------------------

    def list_messages(
        self,
        phone_number_id: str,
        participants: Sequence[str],
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        page_size: int = 100,
        *,
        user_id: str | None = None,
    ) -> AsyncIterator[Message]:
        """Messages between one of our numbers and the given other parties."""
        people = [participants] if isinstance(participants, str) else list(participants)
        if not people:
            raise ValueError("participants must not be empty")
        params: Params = {
            "phoneNumberId": phone_number_id,
            "participants": people,
            "maxResults": _page_size(page_size, 100),
        }
        _add_filters(params, created_after, created_before, user_id)
        return self._paginate("/messages", Message, params)

    async def get_message(self, message_id: str) -> Message:
        return await self._get_one(f"/messages/{_id(message_id)}", Message)

    def list_conversations(
        self,
        phone_numbers: Sequence[str] | None = None,
        updated_after: datetime | None = None,
        created_after: datetime | None = None,
        *,
        updated_before: datetime | None = None,
        created_before: datetime | None = None,
        user_id: str | None = None,
        exclude_inactive: bool | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[Conversation]:
        """Conversations, most recently active first; ``phone_numbers`` are PN ids or E.164."""
        params: Params = {"maxResults": _page_size(page_size, 100)}
        if phone_numbers:
            params["phoneNumbers"] = (
                [phone_numbers] if isinstance(phone_numbers, str) else list(phone_numbers)
            )
        bounds = {
            "updatedAfter": updated_after,
            "updatedBefore": updated_before,
            "createdAfter": created_after,
            "createdBefore": created_before,
        }
        for key, value in bounds.items():
            if value is not None:
                params[key] = _timestamp(value, key)
        if user_id:
            params["userId"] = user_id
        if exclude_inactive is not None:
            params["excludeInactive"] = "true" if exclude_inactive else "false"
        return self._paginate("/conversations", Conversation, params)

    def list_contacts(
        self,
        *,
        external_ids: Sequence[str] | None = None,
        sources: Sequence[str] | None = None,
        page_size: int = 50,
    ) -> AsyncIterator[Contact]:
        params: Params = {"maxResults": _page_size(page_size, 50)}
        if external_ids:
            params["externalIds"] = list(external_ids)
        if sources:
            params["sources"] = list(sources)
        return self._paginate("/contacts", Contact, params)

    async def get_contact(self, contact_id: str) -> Contact:
        return await self._get_one(f"/contacts/{_id(contact_id)}", Contact)

    # -- webhooks ---------------------------------------------------------------------------

    async def list_webhooks(self, user_id: str | None = None) -> list[Webhook]:
        params: Params = {"userId": user_id} if user_id else {}
        return await self._get_list("/webhooks", Webhook, params)

    async def create_webhook(
        self,
        family: WebhookFamily,
        url: str,
        events: Sequence[str],
        resource_ids: Sequence[str] | None = None,
        label: str | None = None,
    ) -> Webhook:
        """Create a v1 webhook (not idempotent: retried only when it surely was not sent)."""
        body: dict[str, Any] = {"url": url, "events": list(events)}
        if resource_ids is not None:
            body["resourceIds"] = list(resource_ids)
        if label is not None:
            body["label"] = label
        response = await self._call("POST", f"/webhooks/{_id(family)}", json=body)
        return validate(Webhook, response_data(response, "POST /webhooks"), "data")

    async def delete_webhook(self, webhook_id: str) -> None:
        """Delete a v1 webhook; raises NotFound when it does not exist (or no longer does)."""
        await self._call("DELETE", f"/webhooks/{_id(webhook_id)}")

    # -- media ------------------------------------------------------------------------------

    async def iter_download(self, url: str, *, chunk_size: int = 65_536) -> AsyncIterator[bytes]:
        """Stream a recording or voicemail file in chunks.

        The API key (and the pacer) are used only when ``url`` is on the API host, so the key
        never leaks to a storage host. Failures before the first chunk are retried; a failure
        mid-stream raises UpstreamUnavailable (restart the download).
        """
        target = httpx.URL(url)
        on_api = self._is_api(target)
        headers = {"Authorization": self._api_key} if on_api else {}
        request = f"GET {target.host}{target.path}"

        async def attempt() -> httpx.Response:
            built = self._http.build_request("GET", target, headers=headers)
            response = await self._http.send(built, stream=True, follow_redirects=True)
            if response.is_success:
                return response
            try:
                await response.aread()
            finally:
                await response.aclose()
            response.raise_for_status()
            return response

        response = await self._with_retries(request, attempt, paced=on_api, idempotent=True)
        try:
            with openphone_errors(request, secret=self._api_key):
                async for chunk in response.aiter_bytes(chunk_size):
                    yield chunk
        finally:
            await response.aclose()

    async def download(self, url: str) -> bytes:
        """The whole file at ``url`` (see :meth:`iter_download`)."""
        return b"".join([chunk async for chunk in self.iter_download(url)])
