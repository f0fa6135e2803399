"""File uploads through the official SDK: create → send → uploaded, attach, expiry, limits."""

from __future__ import annotations

import pytest
from notion_client import APIResponseError, AsyncClient

from opsync.clock import FakeClock
from opsync.sandbox.notion import NotionSimulator, SeededDatabases
from tests.sandbox.notion.conftest import ds_parent, text

AUDIO = b"ID3" + bytes(range(256)) * 4


async def test_create_send_retrieve(notion: AsyncClient, clock: FakeClock) -> None:
    created = await notion.file_uploads.create(
        mode="single_part", filename="call-AC123.mp3", content_type="audio/mpeg"
    )
    assert created["object"] == "file_upload"
    assert created["status"] == "pending"
    assert created["upload_url"].endswith(f"/v1/file_uploads/{created['id']}/send")
    assert created["content_length"] is None
    assert created["expiry_time"] is not None

    sent = await notion.file_uploads.send(
        created["id"], file=("call-AC123.mp3", AUDIO, "audio/mpeg")
    )
    assert sent["status"] == "uploaded"
    assert sent["content_length"] == len(AUDIO)
    fetched = await notion.file_uploads.retrieve(created["id"].replace("-", ""))
    assert fetched["status"] == "uploaded"
    assert fetched["filename"] == "call-AC123.mp3"
    listed = await notion.file_uploads.list(status="uploaded")
    assert [u["id"] for u in listed["results"]] == [created["id"]]

    with pytest.raises(APIResponseError) as again:
        await notion.file_uploads.send(created["id"], file=("x.mp3", AUDIO, "audio/mpeg"))
    assert again.value.code == "validation_error"


async def test_attach_to_files_property_and_audio_block(
    notion: AsyncClient, seeded: SeededDatabases, simulator: NotionSimulator, clock: FakeClock
) -> None:
    await notion.data_sources.update(
        seeded.calls_data_source_id, properties={"Recording": {"files": {}}}
    )
    upload = await notion.file_uploads.create(filename="call.mp3", content_type="audio/mpeg")
    pending_ref = [{"type": "file_upload", "file_upload": {"id": upload["id"]}}]
    with pytest.raises(APIResponseError) as pending:
        await notion.pages.create(
            parent=ds_parent(seeded.calls_data_source_id),
            properties={"Recording": {"files": pending_ref}},
        )
    assert "only `uploaded` uploads can be attached" in str(pending.value)

    await notion.file_uploads.send(upload["id"], file=("call.mp3", AUDIO, "audio/mpeg"))
    page = await notion.pages.create(
        parent=ds_parent(seeded.calls_data_source_id),
        properties={"Call ID": {"title": text("AC1")}, "Recording": {"files": pending_ref}},
        children=[
            {"type": "audio", "audio": {"type": "file_upload", "file_upload": {"id": upload["id"]}}}
        ],
    )
    [stored] = page["properties"]["Recording"]["files"]
    assert stored["name"] == "call.mp3"
    assert stored["type"] == "file"
    assert stored["file"]["url"].endswith("/call.mp3")
    assert (await notion.file_uploads.retrieve(upload["id"]))["expiry_time"] is None
    block = (await notion.blocks.children.list(page["id"]))["results"][0]
    assert block["audio"]["type"] == "file"

    clock.advance(7200)  # attached uploads do not expire
    assert (await notion.file_uploads.retrieve(upload["id"]))["status"] == "uploaded"


async def test_unattached_upload_expires_after_an_hour(
    notion: AsyncClient, clock: FakeClock
) -> None:
    upload = await notion.file_uploads.create(filename="late.mp3", content_type="audio/mpeg")
    clock.advance(3600)
    assert (await notion.file_uploads.retrieve(upload["id"]))["status"] == "expired"
    with pytest.raises(APIResponseError) as err:
        await notion.file_uploads.send(upload["id"], file=("late.mp3", AUDIO, "audio/mpeg"))
    assert "status `expired`" in str(err.value)


async def test_upload_limits(notion: AsyncClient, simulator: NotionSimulator) -> None:
    simulator.state.uploads.max_file_size = 100
    big = await notion.file_uploads.create(filename="big.mp3", content_type="audio/mpeg")
    with pytest.raises(APIResponseError) as too_big:
        await notion.file_uploads.send(big["id"], file=("big.mp3", AUDIO, "audio/mpeg"))
    assert "larger than the limit of 100 bytes" in str(too_big.value)

    wav = await notion.file_uploads.create(filename="a.wav", content_type="audio/wav")
    with pytest.raises(APIResponseError) as mismatch:
        await notion.file_uploads.send(wav["id"], file=("a.wav", b"RIFF", "audio/mpeg"))
    assert "does not match" in str(mismatch.value)

    for body in ({"mode": "multi_part", "number_of_parts": 2}, {"filename": "a" * 901}):
        with pytest.raises(APIResponseError) as err:
            await notion.file_uploads.create(**body)
        assert err.value.code == "validation_error"
    with pytest.raises(APIResponseError) as missing:
        await notion.file_uploads.retrieve("00000000-0000-4000-8000-000000000000")
    assert missing.value.code == "object_not_found"
