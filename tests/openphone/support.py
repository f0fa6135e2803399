"""Test doubles for the OpenPhone client: a scripted MockTransport handler and a pacer spy."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

Step = httpx.Response | Callable[[httpx.Request], httpx.Response]

CALL: dict[str, Any] = {
    "id": "AC123abc",
    "phoneNumberId": "PN123abc",
    "userId": "US123abc",
    "direction": "incoming",
    "status": "completed",
    "participants": ["+15555555555"],
    "createdAt": "2022-01-01T00:00:00Z",
    "updatedAt": "2022-01-01T00:01:00.123Z",
    "answeredAt": "2022-01-01T00:00:05Z",
    "answeredBy": "USlHhXmRMz",
    "initiatedBy": None,
    "completedAt": "2022-01-01T00:01:00Z",
    "duration": 60,
    "callRoute": "phone-number",
    "forwardedFrom": None,
    "forwardedTo": "USlHhXmRMz",
    "aiHandled": None,
}

MESSAGE: dict[str, Any] = {
    "id": "AC9message",
    "from": "+15555550100",
    "to": ["+15555550199"],
    "text": "Hello",
    "phoneNumberId": "PN123abc",
    "direction": "incoming",
    "userId": None,
    "status": "received",
    "createdAt": "2022-01-23T16:55:52.420Z",
    "updatedAt": "2022-01-23T16:55:52Z",
}


def ok(data: Any, status: int = 200, **extra: Any) -> httpx.Response:
    return httpx.Response(status, json={"data": data, **extra})


def error(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    if body is None:
        body = {
            "message": "Something went wrong",
            "code": f"01{status:05d}",
            "status": status,
            "docs": "https://openphone.com/docs",
            "title": "Error",
        }
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers=headers)


def raises(exc_type: type[httpx.RequestError]) -> Callable[[httpx.Request], httpx.Response]:
    def step(request: httpx.Request) -> httpx.Response:
        raise exc_type("simulated failure", request=request)

    return step


class Script:
    """A MockTransport handler that plays ``steps`` in order and records every request."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.steps:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        step = self.steps.pop(0)
        return step if isinstance(step, httpx.Response) else step(request)


class SpyPacer:
    """A pacer that never waits and records acquisitions and pauses."""

    def __init__(self) -> None:
        self.acquired = 0
        self.paused: list[float] = []

    async def acquire(self) -> float:
        self.acquired += 1
        return 0.0

    def pause(self, seconds: float) -> None:
        self.paused.append(seconds)
