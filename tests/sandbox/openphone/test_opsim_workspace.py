"""The generator (determinism, realism), state mutation through a call's life, media files."""

from __future__ import annotations

import re
import struct
import zlib

import httpx
import pytest

from opsync.sandbox._server import serve
from opsync.sandbox.openphone import WorkspaceSize, generate_workspace
from opsync.sandbox.openphone.media import silent_mp3, tiny_png
from tests.sandbox.openphone.support import NOW, client, make_sim, validate


def test_same_seed_same_workspace_other_seed_other_workspace() -> None:
    first = generate_workspace(5, NOW).snapshot()
    assert first == generate_workspace(5, NOW).snapshot()
    assert first != generate_workspace(6, NOW).snapshot()


def test_size_is_configurable() -> None:
    small = generate_workspace(1, NOW, WorkspaceSize(phone_numbers=1, users=2, contacts=3))
    assert len(small.phone_numbers) == 1
    assert len(small.users) == 2
    assert len(small.contacts) == 3
    large = generate_workspace(1, NOW, WorkspaceSize.large())
    assert len(large.calls) > 5 * len(generate_workspace(1, NOW).calls)


def test_workspace_is_realistic() -> None:
    ws = generate_workspace(1, NOW)
    statuses = {c.status for c in ws.calls.values()}
    assert {"completed", "missed", "no-answer", "busy", "forwarded", "canceled"} <= statuses
    assert {c.direction for c in ws.calls.values() if c.status == "completed"} == {
        "incoming",
        "outgoing",
    }
    transcripts = [
        c.transcript for c in ws.calls.values() if c.transcript and c.transcript.dialogue
    ]
    assert any(t.text_length() > 2000 for t in transcripts)
    assert any(len({d["identifier"] for d in t.dialogue or []}) > 2 for t in transcripts)
    assert any(c.summary and c.summary.next_steps for c in ws.calls.values())
    voicemails = [c.voicemail for c in ws.calls.values() if c.voicemail]
    assert any(v.status == "completed" and v.transcript for v in voicemails)
    assert any(m.media for m in ws.messages.values())
    assert any(not m.media for m in ws.messages.values())
    assert any(c.status == "ringing" for c in ws.calls.values())
    assert all(c.created_at <= NOW for c in ws.calls.values())


def test_ids_follow_the_spec_patterns() -> None:
    ws = generate_workspace(3, NOW)
    assert all(re.match(r"^PN", n["id"]) for n in ws.phone_numbers)
    assert all(re.match(r"^US", u["id"]) for u in ws.users)
    assert all(re.match(r"^AC", i) for i in [*ws.calls, *ws.messages])
    assert all(re.match(r"^CN", i) for i in ws.conversations)
    assert all(c.voicemail.id.startswith("VM") for c in ws.calls.values() if c.voicemail)
    assert ws.org_id.startswith("OR")


async def test_a_call_lives_through_its_stages_and_rest_follows() -> None:
    sim = make_sim()
    sim.limiter.enabled = False  # 20 requests at one instant of the fake clock
    ws = sim.workspace
    pn = ws.phone_numbers[0]["id"]
    call = ws.add_call(pn, "+14155550123", at=NOW, talk_seconds=400)
    seen: list[tuple[str, str, str, int]] = []
    async with client(sim) as http:
        for stage in ["ringing", "completed", "recording", "transcript", "summary"]:
            if stage != "ringing":
                assert ws.advance_call(call.id) == stage
            got_call = await http.get(f"/v1/calls/{call.id}")
            summary = await http.get(f"/v1/call-summaries/{call.id}")
            transcript = await http.get(f"/v1/call-transcripts/{call.id}")
            recordings = await http.get(f"/v1/call-recordings/{call.id}")
            for response in (got_call, summary, transcript, recordings):
                validate(response)
            seen.append(
                (
                    got_call.json()["data"]["status"],
                    summary.json()["data"]["status"],
                    transcript.json()["data"]["status"],
                    len([r for r in recordings.json()["data"] if r["url"]]),
                )
            )
        assert ws.advance_call(call.id) is None
    assert seen == [
        ("ringing", "absent", "absent", 0),
        ("completed", "in-progress", "in-progress", 0),
        ("completed", "in-progress", "in-progress", 1),
        ("completed", "in-progress", "completed", 1),
        ("completed", "completed", "completed", 1),
    ]
    assert call.duration == 400
    assert call.completed_at is not None
    assert call.answered_at is not None


async def test_voicemail_is_null_while_in_progress() -> None:
    sim = make_sim()
    ws = sim.workspace
    call = ws.add_call(ws.phone_numbers[0]["id"], "+14155550124", at=NOW, outcome="voicemail")
    async with client(sim) as http:
        assert (await http.get(f"/v1/call-voicemails/{call.id}")).status_code == 404
        ws.advance_call(call.id)
        pending = (await http.get(f"/v1/call-voicemails/{call.id}")).json()["data"]
        ws.advance_call(call.id)
        done = (await http.get(f"/v1/call-voicemails/{call.id}")).json()["data"]
    assert pending["status"] == "in-progress"
    assert pending["transcript"] is None
    assert pending["recordingUrl"] is None
    assert done["status"] == "completed"
    assert done["transcript"]
    assert call.status == "missed"


def test_impossible_calls_are_refused() -> None:
    ws = generate_workspace(1, NOW)
    pn = ws.phone_numbers[0]["id"]
    with pytest.raises(ValueError, match="outgoing"):
        ws.add_call(pn, "+14155550125", at=NOW, direction="outgoing", outcome="voicemail")
    with pytest.raises(ValueError, match="unknown outcome"):
        ws.add_call(pn, "+14155550125", at=NOW, outcome="exploded")


async def test_new_message_shows_in_list_and_conversation_moves_to_top() -> None:
    sim = make_sim()
    ws = sim.workspace
    pn = ws.phone_numbers[2]["id"]
    message = ws.add_message(pn, ["+14155550126"], "hello there", at=NOW + 10)
    async with client(sim) as http:
        listed = await http.get(
            "/v1/messages",
            params={"phoneNumberId": pn, "participants": "+14155550126", "maxResults": 10},
        )
        convs = await http.get("/v1/conversations", params={"maxResults": 1})
    assert [m["id"] for m in listed.json()["data"]] == [message.id]
    assert convs.json()["data"][0]["lastActivityId"] == message.id


def _mp3_frames(data: bytes) -> int:
    assert data[:3] == b"ID3"
    body = data[10:]
    frames = 0
    while body:
        assert body[:2] == b"\xff\xfb", "frame sync"
        body = body[104:]
        frames += 1
    return frames


def test_silent_mp3_is_well_formed() -> None:
    assert _mp3_frames(silent_mp3(1.0)) == 38
    assert _mp3_frames(silent_mp3(0)) == 1


def test_tiny_png_is_well_formed() -> None:
    data = tiny_png(4, 2)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (4, 2)
    assert (
        zlib.crc32(data[12 : 16 + length])
        == struct.unpack(">I", data[16 + length : 20 + length])[0]
    )


async def test_recording_and_voicemail_audio_download_over_http() -> None:
    sim = make_sim()
    ws = sim.workspace
    answered = next(c for c in ws.calls.values() if c.recordings and c.summary)
    voicemail = next(
        c for c in ws.calls.values() if c.voicemail and c.voicemail.status == "completed"
    )
    async with serve(sim.app) as base_url:
        headers = {"Authorization": "test-key"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers) as http:
            recs = (await http.get(f"/v1/call-recordings/{answered.id}")).json()["data"]
            vm = (await http.get(f"/v1/call-voicemails/{voicemail.id}")).json()["data"]
        async with httpx.AsyncClient() as anonymous:
            audio = [await anonymous.get(r["url"]) for r in recs]
            vm_audio = await anonymous.get(vm["recordingUrl"])
            missing = await anonymous.get(f"{base_url}/media/recordings/CRnope.mp3")
    assert recs
    assert all(r["url"].startswith(base_url) for r in recs)
    for response in [*audio, vm_audio]:
        assert response.status_code == 200
        assert response.headers["content-type"] == "audio/mpeg"
        assert _mp3_frames(response.content) >= 1
    assert missing.status_code == 404
