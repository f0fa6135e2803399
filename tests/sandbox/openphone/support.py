"""Shared helpers of the OpenPhone simulator tests: a workspace, a client, spec validation."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import httpx
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from opsync.clock import FakeClock
from opsync.sandbox.openphone import OpenPhoneSimulator, SimulatorConfig, generate_workspace

SPEC_PATH = Path(__file__).resolve().parents[2] / "fixtures" / "openphone-openapi.json"
SPEC_SERVER = "https://api.openphone.com"
API_KEY = "test-key"
NOW = 1_775_001_600.0


@cache
def spec() -> OpenAPI:
    # The official document has one invalid ``examples`` value (a string where OpenAPI 3.1
    # wants an array, on the webhooks ``userId`` parameter), so the meta-validation of the
    # document itself is skipped; responses are still validated against its schemas.
    document = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))


class HttpxOpenAPIRequest:
    """openapi-core's Request protocol over an ``httpx.Request`` (host mapped to the spec's)."""

    def __init__(self, request: httpx.Request) -> None:
        self.request = request
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(request.url.params.multi_items())),
            header=Headers(list(request.headers.items())),
            cookie=ImmutableMultiDict(),
        )

    @property
    def host_url(self) -> str:
        return SPEC_SERVER

    @property
    def path(self) -> str:
        return self.request.url.path

    @property
    def method(self) -> str:
        return self.request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self.request.content or None

    @property
    def content_type(self) -> str:
        return self.request.headers.get("content-type", "application/json")


class HttpxOpenAPIResponse:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def content_type(self) -> str:
        return self.response.headers.get("content-type", "")

    @property
    def headers(self) -> Mapping[str, str]:
        return Headers(list(self.response.headers.items()))

    @property
    def data(self) -> bytes | None:
        return self.response.content or None


def validate(response: httpx.Response) -> None:
    """Raise if ``response`` does not match the official spec for its request."""
    spec().validate_response(HttpxOpenAPIRequest(response.request), HttpxOpenAPIResponse(response))


def make_sim(seed: int = 1, clock: FakeClock | None = None, **config: object) -> OpenPhoneSimulator:
    clock = clock or FakeClock(NOW)
    workspace = generate_workspace(seed, clock.now())
    settings = SimulatorConfig(**{"api_key": API_KEY, **config})  # type: ignore[arg-type]
    return OpenPhoneSimulator(workspace, settings, clock=clock)


def client(sim: OpenPhoneSimulator, key: str | None = API_KEY) -> httpx.AsyncClient:
    headers = {"Authorization": key} if key is not None else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sim.app), base_url="http://sim.test", headers=headers
    )
