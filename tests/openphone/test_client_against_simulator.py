"""Contract: the project's OpenPhone client against the OpenPhone simulator over real HTTP.

The simulator behaves as the reference documents (required ``participants``, pagination,
rate limit, flat error JSON); these tests prove the client copes with it end to end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from opsync.clock import FakeClock
from opsync.errors import AuthError, NotFound, RateLimited, UpstreamUnavailable
from opsync.openphone import OpenPhoneClient
from opsync.retry import RetryPolicy
from opsync.sandbox._server import serve
from opsync.sandbox.openphone import OpenPhoneSimulator, SimulatorConfig, generate_workspace

API_KEY = "contract-key"
NOW = 1_775_001_600.0


@dataclass
class Rig:
    sim: OpenPhoneSimulator
    client: OpenPhoneClient
    clock: FakeClock
    base_url: str


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    clock = FakeClock(start=NOW)
    sim = OpenPhoneSimulator(
        generate_workspace(seed=3, now=NOW), SimulatorConfig(api_key=API_KEY), clock=clock
    )
    async with serve(sim.app) as base_url, httpx.AsyncClient(timeout=10) as http:
        client = OpenPhoneClient(
            http,
            API_KEY,
            base_url=f"{base_url}/v1",
            clock=clock,
            retry=RetryPolicy(base=0.5, cap=4, max_attempts=4),
        )
        yield Rig(sim, client, clock, base_url)


async def test_every_call_and_message_of_every_number_is_reachable(rig: Rig) -> None:
    """Conversations give the counterparts; calls and messages are listed per counterpart."""
    ws = rig.sim.workspace
    numbers = await rig.client.list_phone_numbers()
    assert {n.id for n in numbers} == {p["id"] for p in ws.phone_numbers}
    for number in numbers:
        counterparts: set[str] = set()
        async for conversation in rig.client.list_conversations(
            phone_numbers=[number.id], page_size=7
        ):
            assert conversation.phone_number_id == number.id
            counterparts.update(conversation.participants)
        call_ids: set[str] = set()
        message_ids: set[str] = set()
        for participant in sorted(counterparts):
            async for call in rig.client.list_calls(number.id, participant, page_size=2):
                assert call.phone_number_id == number.id
                assert call.id not in call_ids  # each call exactly once across pages
                call_ids.add(call.id)
            async for message in rig.client.list_messages(number.id, [participant], page_size=3):
                message_ids.add(message.id)
        expected_calls = {c.id for c in ws.calls.values() if c.phone_number_id == number.id}
        expected_messages = {m.id for m in ws.messages.values() if m.phone_number_id == number.id}
        assert call_ids == expected_calls
        assert message_ids == expected_messages


async def test_a_call_with_all_its_artefacts(rig: Rig) -> None:
    ws = rig.sim.workspace
    number = ws.phone_numbers[0]["id"]
    call = ws.add_call(number, "+14155550123", at=rig.clock.now(), outcome="answered")
    ws.finish_call(call.id)
    fetched = await rig.client.get_call(call.id)
    assert (fetched.id, fetched.status, fetched.direction) == (call.id, "completed", "incoming")
    recordings = await rig.client.get_call_recordings(call.id)
    assert recordings
    assert recordings[0].url is not None
    audio = await rig.client.download(recordings[0].url)
    assert audio[:3] == b"ID3" or audio[:2] == b"\xff\xfb"  # an MP3 file
    transcript = await rig.client.get_call_transcript(call.id)
    assert transcript is not None
    assert transcript.status == "completed"
    assert transcript.dialogue
    summary = await rig.client.get_call_summary(call.id)
    assert summary is not None
    assert summary.status == "completed"
    assert summary.summary


async def test_pending_artefacts_come_back_as_status_objects(rig: Rig) -> None:
    ws = rig.sim.workspace
    call = ws.add_call(ws.phone_numbers[0]["id"], "+14155550124", at=rig.clock.now())
    ws.advance_call(call.id)  # completed; recording, transcript and summary still to come
    transcript = await rig.client.get_call_transcript(call.id)
    summary = await rig.client.get_call_summary(call.id)
    assert transcript is None or transcript.status in {"absent", "in-progress"}
    assert summary is None or summary.status in {"absent", "in-progress"}


async def test_artefacts_not_ready_as_404_are_none() -> None:
    clock = FakeClock(start=NOW)
    ws = generate_workspace(seed=4, now=NOW)
    sim = OpenPhoneSimulator(
        ws, SimulatorConfig(api_key=API_KEY, pending_artifacts="404"), clock=clock
    )
    call = ws.add_call(ws.phone_numbers[0]["id"], "+14155550125", at=NOW)
    ws.advance_call(call.id)
    async with serve(sim.app) as base_url, httpx.AsyncClient() as http:
        client = OpenPhoneClient(http, API_KEY, base_url=f"{base_url}/v1", clock=clock)
        assert await client.get_call_transcript(call.id) is None
        assert await client.get_call_summary(call.id) is None


async def test_client_pacing_keeps_the_simulator_from_rate_limiting(rig: Rig) -> None:
    """30 requests at one instant: the client's bucket spaces them; no 429 is ever seen."""
    number = rig.sim.workspace.phone_numbers[0]["id"]
    for _ in range(30):
        await rig.client.get_phone_number(number)
    assert rig.sim.counters.by_status.get(429, 0) == 0
    assert rig.clock.monotonic() == pytest.approx(29 / 9)  # 9/s, a burst of 1


async def test_429_and_5xx_from_the_simulator_are_retried_then_raised(rig: Rig) -> None:
    number = rig.sim.workspace.phone_numbers[0]["id"]
    for fault, error in (({"p429": 1.0}, RateLimited), ({"p503": 1.0}, UpstreamUnavailable)):
        rig.sim.counters.reset()
        rig.sim.faults.clear()
        rig.sim.faults.configure(**fault)
        with pytest.raises(error):
            await rig.client.get_phone_number(number)
        assert rig.sim.counters.total == 4  # max_attempts
    rig.sim.faults.clear()
    assert (await rig.client.get_phone_number(number)).id == number


async def test_errors_map_to_our_types(rig: Rig) -> None:
    with pytest.raises(NotFound):
        await rig.client.get_call("ACdoesnotexist")
    async with httpx.AsyncClient() as http:
        bad = OpenPhoneClient(http, "wrong-key", base_url=f"{rig.base_url}/v1", clock=rig.clock)
        with pytest.raises(AuthError) as info:
            await bad.list_phone_numbers()
    assert "wrong-key" not in str(info.value)
