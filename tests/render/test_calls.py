"""The Calls page: every property of the seed schema, limits, clear values and the body."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from opsync.openphone.models import CallRecording, DialogueEntry
from opsync.render.calls import (
    TRANSCRIPT_HEADING,
    call_body_blocks,
    call_properties,
    render_call,
    speaker,
    timestamp,
    transcript_lines,
)
from opsync.render.hashing import canonical_json
from opsync.render.state import CallState
from opsync.render.text import (
    JSON,
    TRUNCATED,
    TRUNCATED_SEE_BODY,
    batched,
    payload_size,
    plain_text,
    utf16_len,
)
from opsync.sandbox.notion.seed_schema import CALLS_PROPERTIES
from tests.render.support import (
    CALLER,
    NOW,
    entry,
    make_call,
    make_summary,
    make_transcript,
    make_voicemail,
    rich_segments,
    workspace,
)

ALICE = "US-alice"
LINES = [
    "Hello, this is Alice from Acme 😀.",
    "שלום, אני מדבר עברית. مرحبا بالعالم",
    "Sure — 👩‍👩‍👧 family plan please, ",
]


def long_transcript_state(chars: int = 50_000) -> CallState:
    dialogue = []
    total = 0
    i = 0
    while total < chars:
        text = LINES[i % 3] * (1 + i % 40)
        speakers: list[dict[str, str]] = [{"user_id": ALICE}, {"who": CALLER}, {"who": "+1999"}]
        dialogue.append(entry(text, i * 7.5, **speakers[i % 3]))
        total += len(text)
        i += 1
    dialogue.append(entry("x" * 9000 + "😀" * 3000, i * 7.5, user_id=ALICE))  # one huge turn
    return full_state(transcript=make_transcript(dialogue))


def full_state(**changes: object) -> CallState:
    state = CallState(
        call=make_call(),
        now=NOW,
        recordings=[
            CallRecording.model_validate(
                {
                    "id": "RE1",
                    "duration": 290,
                    "startTime": None,
                    "status": "completed",
                    "type": "audio/mpeg",
                    "url": "https://files.openphone.example/re1.mp3",
                }
            )
        ],
        transcript=make_transcript([entry("Hi there", 1.2, user_id=ALICE)]),
        summary=make_summary(["Customer asked about pricing"], ["Send the quote"]),
        voicemail=make_voicemail("Please call me back"),
        recording_url="https://media.example/recordings/2026/04/01/AC123abc-1.mp3",
        voicemail_url="https://media.example/voicemails/2026/04/01/AC123abc-1.mp3",
        phone_number="+15555550199",
        user_names={ALICE: "Alice Smith"},
        contact_names={CALLER: "Bob Jones"},
        canvas_page_id="0f0e0d0c-0b0a-4909-8807-060504030201",
    )
    return replace(state, **changes)  # type: ignore[arg-type]


def schema_type(schema: JSON) -> str:
    (kind,) = schema.keys()
    return kind


def value_type(value: JSON) -> str:
    (kind,) = value.keys()
    return kind


@pytest.mark.parametrize("state", [full_state(), CallState(call=make_call(), now=NOW)])
def test_every_property_matches_the_seed_schema(state: CallState) -> None:
    properties = call_properties(state)
    assert set(properties) == set(CALLS_PROPERTIES) | {"Canvas"}
    for name, schema in CALLS_PROPERTIES.items():
        assert value_type(properties[name]) == schema_type(schema), name
    assert value_type(properties["Canvas"]) == "relation"


def test_full_state_renders_the_expected_values() -> None:
    p = call_properties(full_state())
    assert plain_text(p["Call ID"]["title"]) == "AC123abc"
    assert p["Direction"] == {"select": {"name": "incoming"}}
    assert p["Status"] == {"select": {"name": "completed"}}
    assert p["Duration"] == {"number": 295}
    assert plain_text(p["Participants"]["rich_text"]) == CALLER
    assert plain_text(p["OpenPhone User"]["rich_text"]) == "US123abc"
    assert plain_text(p["Phone Number Used"]["rich_text"]) == "+15555550199"
    assert p["Created At"] == {"date": {"start": "2026-04-01T10:00:00.000+00:00"}}
    assert p["Has Recording"] == {"checkbox": True}
    assert p["Recording Duration"] == {"number": 290}
    assert p["Recording URL"]["url"].endswith("AC123abc-1.mp3")
    assert plain_text(p["Transcript"]["rich_text"]) == "[00:01] Alice Smith: Hi there"
    assert p["Transcript Status"] == {"select": {"name": "completed"}}
    assert plain_text(p["Summary"]["rich_text"]) == "Customer asked about pricing"
    assert plain_text(p["Next Steps"]["rich_text"]) == "Send the quote"
    assert plain_text(p["Voicemail Transcript"]["rich_text"]) == "Please call me back"
    assert p["Has Voicemail"] == {"checkbox": True}
    assert p["Last Updated"] == {"date": {"start": "2026-04-01T10:06:00.000+00:00"}}
    assert p["Synced At"] == {"date": {"start": "2026-04-01T12:00:00.000+00:00"}}
    assert p["Canvas"] == {"relation": [{"id": "0f0e0d0c-0b0a-4909-8807-060504030201"}]}
    raw = plain_text(p["Raw Data"]["rich_text"])
    assert json.loads(raw) == make_call().model_dump(mode="json", by_alias=True)


def test_missing_values_render_as_clear_values() -> None:
    call = make_call(status="ringing", answeredAt=None, completedAt=None, callRoute=None)
    p = call_properties(CallState(call=call, now=NOW))
    assert p["Answered At"] == {"date": None}
    assert p["Completed At"] == {"date": None}
    assert p["Recording URL"] == {"url": None}
    assert p["Voicemail URL"] == {"url": None}
    assert p["Recording Duration"] == {"number": None}
    for name in ("Transcript", "Summary", "Next Steps", "Voicemail Transcript", "Call Route",
                 "Forwarded From", "Forwarded To", "Phone Number Used"):  # fmt: skip
        assert p[name] == {"rich_text": []}, name
    for name in ("Has Recording", "Has Transcript", "Has Summary", "Has Voicemail"):
        assert p[name] == {"checkbox": False}, name
    assert p["Transcript Status"] == {"select": {"name": "absent"}}
    assert p["Canvas"] == {"relation": []}
    assert call_body_blocks(CallState(call=call, now=NOW)) == []


@pytest.mark.parametrize(
    ("status", "expected"),
    [("completed", {"name": "completed"}), ("odd, new", {"name": "odd new"}), (",", None)],
)
def test_select_names_never_carry_commas(status: str, expected: JSON | None) -> None:
    p = call_properties(CallState(call=make_call(status=status), now=NOW))
    assert p["Status"] == {"select": expected}


def test_an_overlong_url_is_left_out() -> None:
    long_url = "https://media.example/" + "a" * 2000
    p = call_properties(full_state(recording_url=long_url, voicemail_url=long_url))
    assert p["Recording URL"] == {"url": None}
    assert p["Voicemail URL"] == {"url": None}


def test_a_naive_sync_time_is_refused() -> None:
    with pytest.raises(ValueError, match="zone"):
        call_properties(full_state(now=NOW.replace(tzinfo=None)))


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.0, "00:00"), (65.7, "01:05"), (599.99, "09:59"), (3600.0, "1:00:00"), (-3.0, "00:00")],
)
def test_timestamp(seconds: float, shown: str) -> None:
    assert timestamp(seconds) == shown


@pytest.mark.parametrize(
    ("user_id", "identifier", "name"),
    [
        (ALICE, None, "Alice Smith"),
        (ALICE, CALLER, "Alice Smith"),
        ("US-unknown", CALLER, "Bob Jones"),
        (None, CALLER, "Bob Jones"),
        (None, "+19998887777", "+19998887777"),
        ("US-unknown", None, "US-unknown"),
        (None, None, "Unknown speaker"),
    ],
)
def test_speaker_names(user_id: str | None, identifier: str | None, name: str) -> None:
    item = DialogueEntry.model_validate(entry("hi", 0, user_id=user_id, who=identifier))
    assert speaker(item, full_state()) == name


def test_body_has_summary_next_steps_transcript_and_voicemail_in_order() -> None:
    blocks = call_body_blocks(full_state())
    shown = [(b["type"], plain_text(b[b["type"]]["rich_text"])) for b in blocks]
    assert shown == [
        ("heading_2", "Summary"),
        ("bulleted_list_item", "Customer asked about pricing"),
        ("heading_2", "Next steps"),
        ("bulleted_list_item", "Send the quote"),
        ("heading_2", "Transcript"),
        ("paragraph", "[00:01] Alice Smith: Hi there"),
        ("heading_2", "Voicemail"),
        ("paragraph", "Please call me back"),
    ]
    assert blocks[5]["paragraph"]["rich_text"][0]["annotations"] == {"bold": True}


def test_long_transcript_fits_every_limit_and_the_body_keeps_all_of_it() -> None:
    state = long_transcript_state()
    rendered = render_call(state)
    segments = rich_segments(rendered.properties, rendered.blocks)
    assert all(utf16_len(item["text"]["content"]) <= 2000 for item in segments)
    for value in rendered.properties.values():
        assert len(value.get("rich_text") or []) <= 100
    assert all(len(b[b["type"]]["rich_text"]) <= 100 for b in rendered.blocks)

    start = next(i for i, b in enumerate(rendered.blocks) if b["type"] == "heading_2"
                 and plain_text(b["heading_2"]["rich_text"]) == TRANSCRIPT_HEADING) + 1  # fmt: skip
    body = [b for b in rendered.blocks[start:] if b["type"] == "paragraph"]
    # A block ends where a turn ends (no turn here is long enough to span two blocks).
    body_text = "\n".join(plain_text(b["paragraph"]["rich_text"]) for b in body)
    expected = "\n".join(f"{line.label}: {line.content}" for line in transcript_lines(state))
    assert body_text[: len(expected)] == expected
    assert sum(len(line.content) for line in transcript_lines(state)) > 50_000

    shown = plain_text(rendered.properties["Transcript"]["rich_text"])
    assert shown.endswith(TRUNCATED_SEE_BODY)
    full = "\n".join(line.text for line in transcript_lines(state))
    assert full.startswith(shown.removesuffix(TRUNCATED_SEE_BODY))
    assert payload_size(rendered.properties) < 500_000


def test_raw_data_is_a_json_prefix_cut_to_fit() -> None:
    participants = [f"+1555{i:07d}" for i in range(3000)]
    state = full_state(call=make_call(participants=participants))
    raw = plain_text(call_properties(state)["Raw Data"]["rich_text"])
    full = canonical_json(state.call.model_dump(mode="json", by_alias=True))
    assert raw.endswith(TRUNCATED)
    assert full.startswith(raw.removesuffix(TRUNCATED))
    assert json.loads(full)["participants"] == participants
    assert utf16_len(raw) <= 20_000


def test_rendering_is_deterministic() -> None:
    assert render_call(long_transcript_state(5000)) == render_call(long_transcript_state(5000))


def test_the_simulated_notion_accepts_the_rendered_page_and_body() -> None:
    space = workspace()
    rendered = render_call(long_transcript_state())
    properties = dict(rendered.properties, Canvas={"relation": [{"id": space.canvas_page_id}]})
    runs = list(batched(rendered.blocks))
    page = space.create(space.seeded.calls_data_source_id, properties, runs[0])
    for run in runs[1:]:
        space.state.append_children(page["id"], {"children": run})
    stored = space.state.get_page(page["id"])["properties"]
    assert plain_text(stored["Transcript"]["rich_text"]).endswith(TRUNCATED_SEE_BODY)
    assert stored["Canvas"]["relation"] == [{"id": space.canvas_page_id}]
    listed = space.state.list_children(page["id"], None, 100)
    assert len(listed["results"]) == min(100, len(rendered.blocks))


def test_all_long_properties_at_their_budget_stay_under_the_request_limit() -> None:
    wide = "語" * 60_000  # three UTF-8 bytes per unit, the worst case for payload size
    dialogue = [entry(wide, 0, user_id=ALICE)]
    call = make_call(participants=[wide[:9000]], callRoute=wide, forwardedFrom=wide)
    state = full_state(
        call=call,
        transcript=make_transcript(dialogue),
        summary=make_summary([wide], [wide]),
        voicemail=make_voicemail(wide),
        user_names={"US123abc": wide},
    )
    properties = call_properties(state)
    assert payload_size(properties) < 500_000
    for name in ("Transcript", "Summary", "Next Steps", "Voicemail Transcript"):
        assert plain_text(properties[name]["rich_text"]).endswith(TRUNCATED_SEE_BODY), name
    assert plain_text(properties["Raw Data"]["rich_text"]).endswith(TRUNCATED)


def test_lone_surrogates_render_and_hash() -> None:
    dialogue = [entry("broken \ud83d emoji", 0, user_id=ALICE)]
    rendered = render_call(full_state(transcript=make_transcript(dialogue)))
    assert "broken \ufffd emoji" in plain_text(rendered.properties["Transcript"]["rich_text"])
    assert len(rendered.content_hash) == 64
