"""verify(): a correct workspace passes; each kind of wrong page fails with a readable reason."""

from __future__ import annotations

from opsync.demo.verify import (
    Verification,
    plain,
    text_problem,
    transcript_problem,
    verify,
)
from tests.demo.conftest import World, call_properties, rich


def check(world: World) -> Verification:
    return verify(
        world.workspace,
        world.call_ids,
        world.message_ids,
        world.pages,
        world.ids,
        world.canvas_pages,
    )


def reasons(result: Verification) -> list[str]:
    return [str(problem) for problem in result.problems]


def test_a_correct_workspace_passes(world: World) -> None:
    result = check(world)

    assert reasons(result) == []
    assert result.ok
    assert result.pages == {"calls": 3, "messages": 3}
    assert (result.duplicate_pages, result.missing_pages, result.mismatched_pages) == (0, 0, 0)
    assert result.canvas_links == 2  # the linked call and the linked message


def test_a_duplicate_page_fails(world: World) -> None:
    call_id = world.call_ids[0]
    call = world.workspace.calls[call_id]
    world.add_page(
        world.seeded.calls_data_source_id,
        call_properties(call, world.canvas_pages.get(call.participant)),
    )

    result = check(world)

    assert not result.ok
    assert result.duplicate_pages == 1
    assert reasons(result) == [f"call {call_id}: 2 pages instead of one"]


def test_a_page_in_the_trash_does_not_count(world: World) -> None:
    world.state.update_page(world.page_of[world.call_ids[2]], {"in_trash": True})

    result = check(world)

    assert result.missing_pages == 1
    assert reasons(result) == [f"call {world.call_ids[2]}: no page in the calls database"]


def test_a_wrong_status_fails(world: World) -> None:
    call_id = world.call_ids[0]
    world.set(call_id, {"Status": {"select": {"name": "ringing"}}})

    result = check(world)

    assert result.mismatched_pages == 1
    assert reasons(result) == [f"call {call_id}: Status is 'ringing', expected 'completed'"]


def test_an_outgoing_message_must_end_delivered(world: World) -> None:
    message_id = world.message_ids[1]
    world.set(message_id, {"Status": {"select": {"name": "sent"}}})

    assert reasons(check(world)) == [
        f"message {message_id}: Status is 'sent', expected 'delivered'"
    ]


def test_an_incoming_message_may_say_delivered_or_received(world: World) -> None:
    message_id = world.message_ids[0]
    world.set(message_id, {"Status": {"select": {"name": "delivered"}}})
    assert check(world).ok

    world.set(message_id, {"Status": {"select": {"name": "sent"}}})
    assert reasons(check(world)) == [
        f"message {message_id}: Status is 'sent', expected 'delivered' or 'received'"
    ]


def test_a_missing_canvas_link_fails(world: World) -> None:
    call_id = world.call_ids[0]
    expected = world.canvas_pages[world.workspace.calls[call_id].participant]
    world.set(call_id, {"Canvas": {"relation": []}})

    result = check(world)

    assert result.mismatched_pages == 1
    assert reasons(result) == [f"call {call_id}: Canvas is [], expected ['{expected}']"]


def test_a_link_to_our_own_number_fails(world: World) -> None:
    internal = world.message_ids[2]
    own_page = world.canvas_pages[world.workspace.phone_numbers[1]["number"]]
    world.set(internal, {"Canvas": {"relation": [{"id": own_page}]}})

    assert reasons(check(world)) == [f"message {internal}: Canvas is ['{own_page}'], expected []"]


def test_a_cut_transcript_passes_and_a_wrong_one_fails(world: World) -> None:
    call_id = world.call_ids[0]
    page = next(p for p in world.pages if p["id"] == world.page_of[call_id])
    full = plain(page["properties"]["Transcript"])
    world.set(call_id, {"Transcript": rich(full[:150] + "… [truncated, full text in page body]")})
    assert check(world).ok

    world.set(call_id, {"Transcript": rich(full.replace("\n", "\n[00:00] X: extra\n", 1)[:-5])})
    problems = reasons(check(world))
    assert len(problems) == 1
    assert problems[0].startswith(f"call {call_id}: Transcript misses turn")


def test_text_problem_compares_a_cut_text_as_a_prefix() -> None:
    assert text_problem("Summary", "abc", "abc") is None
    assert text_problem("Summary", "ab… [truncated]", "abc") is None
    assert text_problem("Summary", "ax… [truncated]", "abc") == (
        "Summary is 'ax… [truncated]', expected 'abc'"
    )
    assert text_problem("Summary", "ab", "abc") == "Summary is 'ab', expected 'abc'"


def test_transcript_problem_wants_every_turn_in_order() -> None:
    turns = ["hello there", "hi, how can I help?"]
    assert (
        transcript_problem("[00:01] A: hello there\n[00:03] B: hi, how can I help?", turns) is None
    )
    assert transcript_problem("[00:03] B: hi, how can I help?\n[00:01] A: hello there", turns) == (
        "Transcript misses turn 2 'hi, how can I help?'"
    )
    assert transcript_problem("", []) is None
