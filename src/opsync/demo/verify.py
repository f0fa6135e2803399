"""Compare the simulated Notion workspace with the simulated OpenPhone data (pure).

For every played call and message there must be exactly one live page in the right data
source whose title is its id, with properties equal to the resource's final OpenPhone data and
a ``Canvas`` relation to the Canvas page of the other party (none when the other party has no
Canvas page or is one of the workspace's own numbers). Long texts may be cut in a property:
then what is there must be a prefix of the full text, followed by the truncation marker.

Incoming messages: OpenPhone's REST API calls them ``delivered`` while the webhook says
``received``; either is accepted (the reference documents both).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opsync.sandbox.openphone import Workspace
from opsync.sandbox.openphone.models import Call, Message

JSON = dict[str, Any]
#: what a property cut to fit ends with (``opsync.render.text``); verified as a prefix then
TRUNCATION_MARKERS = ("… [truncated, full text in page body]", "… [truncated]")
#: room left for a speaker label when a transcript is cut inside a turn
LABEL_ALLOWANCE = 300


@dataclass(frozen=True)
class Mismatch:
    resource_type: str
    resource_id: str
    reason: str

    def __str__(self) -> str:
        return f"{self.resource_type} {self.resource_id}: {self.reason}"


@dataclass
class Verification:
    """The outcome: pages found per kind, and every problem in readable form."""

    pages: dict[str, int] = field(default_factory=lambda: {"calls": 0, "messages": 0})
    duplicate_pages: int = 0
    missing_pages: int = 0
    mismatched_pages: int = 0
    canvas_links: int = 0
    problems: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.duplicate_pages or self.missing_pages or self.mismatched_pages)


@dataclass(frozen=True)
class NotionIds:
    calls_data_source_id: str
    messages_data_source_id: str


def plain(value: JSON | None) -> Any:
    """A property value in response form → plain Python (text, number, bool, name, ids)."""
    if value is None:
        return None
    kind = value["type"]
    inner = value.get(kind)
    if kind in ("title", "rich_text"):
        return "".join(part.get("plain_text", "") for part in inner or [])
    if kind == "select":
        return None if inner is None else inner["name"]
    if kind == "relation":
        return [ref["id"] for ref in inner or []]
    return inner


def _cut(text: str) -> tuple[str, bool]:
    for marker in TRUNCATION_MARKERS:
        if text.endswith(marker):
            return text[: -len(marker)], True
    return text, False


def text_problem(name: str, actual: str | None, expected: str) -> str | None:
    """Why ``actual`` is not ``expected`` (or a marked prefix of it), else None."""
    shown, cut = _cut(actual or "")
    if (cut and expected.startswith(shown)) or (not cut and shown == expected):
        return None
    return f"{name} is {_short(actual)}, expected {_short(expected)}"


def transcript_problem(actual: str | None, turns: Sequence[str]) -> str | None:
    """Every turn's words, in order (speaker labels are the renderer's business); a cut
    property must hold the turns up to the cut."""
    text, cut = _cut(actual or "")
    position = 0
    for number, content in enumerate(turns, start=1):
        found = text.find(content, position)
        if found < 0:
            if cut and len(text) - position < len(content) + LABEL_ALLOWANCE:
                return None
            return f"Transcript misses turn {number} {_short(content)}"
        position = found + len(content)
    return None


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…'"


def _compare(found: Mapping[str, Any], expected: Mapping[str, Any]) -> list[str]:
    return [
        f"{name} is {_short(found.get(name))}, expected {_short(value)}"
        for name, value in expected.items()
        if found.get(name) != value
    ]


def _other(numbers: Iterable[str], own: set[str]) -> str | None:
    return next((number for number in numbers if number not in own), None)


def call_problems(props: Mapping[str, Any], call: Call, canvas: str | None) -> list[str]:
    """Why a call's page (``props`` in plain form) is not right."""
    completed = call.recordings and all(rec.status == "completed" for rec in call.recordings)
    transcript = call.transcript
    turns = [entry["content"] for entry in (transcript.dialogue or [])] if transcript else []
    summary = call.summary
    summary_lines = (summary.summary or []) if summary else []
    steps = (summary.next_steps or []) if summary else []
    voicemail = call.voicemail
    problems = _compare(
        props,
        {
            "Direction": call.direction,
            "Status": call.status,
            "Duration": call.duration,
            "Phone Number ID": call.phone_number_id,
            "Has Recording": bool(completed),
            "Has Transcript": bool(turns),
            "Has Summary": bool(summary_lines),
            "Has Voicemail": voicemail is not None,
            "Canvas": [canvas] if canvas else [],
        },
    )
    if bool(props.get("Recording URL")) != bool(completed):
        problems.append(f"Recording URL is {_short(props.get('Recording URL'))}")
    checks = [
        transcript_problem(props.get("Transcript"), turns),
        text_problem("Summary", props.get("Summary"), "\n".join(summary_lines)),
        text_problem("Next Steps", props.get("Next Steps"), "\n".join(steps)),
        text_problem(
            "Voicemail Transcript",
            props.get("Voicemail Transcript"),
            (voicemail.transcript or "") if voicemail else "",
        ),
    ]
    return problems + [problem for problem in checks if problem]


def message_problems(props: Mapping[str, Any], message: Message, canvas: str | None) -> list[str]:
    """Why a message's page (``props`` in plain form) is not right."""
    problems = _compare(
        props,
        {
            "Direction": message.direction,
            "From": message.sender,
            "To": message.recipients[0] if message.recipients else None,
            "Phone Number ID": message.phone_number_id,
            "Canvas": [canvas] if canvas else [],
        },
    )
    allowed = {message.status} | ({"received"} if message.direction == "incoming" else set())
    if props.get("Status") not in allowed:
        wanted = " or ".join(repr(status) for status in sorted(allowed))
        problems.append(f"Status is {_short(props.get('Status'))}, expected {wanted}")
    content = text_problem("Content", props.get("Content"), message.text)
    return problems + ([content] if content else [])


def _index(pages: Iterable[JSON], ids: NotionIds) -> dict[tuple[str, str], list[JSON]]:
    kinds = {ids.calls_data_source_id: "calls", ids.messages_data_source_id: "messages"}
    found: dict[tuple[str, str], list[JSON]] = defaultdict(list)
    for page in pages:
        kind = kinds.get(str(page.get("parent", {}).get("data_source_id")))
        if kind is None or page.get("in_trash"):
            continue
        title = next((plain(v) for v in page["properties"].values() if v["type"] == "title"), "")
        found[(kind, title)].append(page)
    return found


def verify(
    workspace: Workspace,
    call_ids: Iterable[str],
    message_ids: Iterable[str],
    notion_pages: Iterable[JSON],
    ids: NotionIds,
    canvas_pages: Mapping[str, str],
) -> Verification:
    """Check every played resource against its page(s) in ``notion_pages`` (the simulator's
    ``state.dump()["pages"]``). ``canvas_pages``: E.164 number → Canvas page id."""
    own = {str(number["number"]) for number in workspace.phone_numbers}
    index = _index(notion_pages, ids)
    result = Verification()
    result.pages = {
        kind: sum(len(pages) for (k, _), pages in index.items() if k == kind)
        for kind in ("calls", "messages")
    }
    for call_id in call_ids:
        call = workspace.calls[call_id]
        props = _single(result, index, "calls", call_id)
        if props is not None:
            canvas = canvas_pages.get(_other([call.participant], own) or "")
            _record(result, "call", call_id, call_problems(props, call, canvas))
    for message_id in message_ids:
        message = workspace.messages[message_id]
        props = _single(result, index, "messages", message_id)
        if props is not None:
            party = [message.sender] if message.direction == "incoming" else message.recipients
            canvas = canvas_pages.get(_other(party, own) or "")
            _record(result, "message", message_id, message_problems(props, message, canvas))
    return result


def _single(
    result: Verification, index: Mapping[tuple[str, str], list[JSON]], kind: str, rid: str
) -> dict[str, Any] | None:
    """The plain properties of the resource's page; records a missing page or duplicates."""
    pages = index.get((kind, rid), [])
    if not pages:
        result.missing_pages += 1
        result.problems.append(Mismatch(kind[:-1], rid, f"no page in the {kind} database"))
        return None
    if len(pages) > 1:
        result.duplicate_pages += len(pages) - 1
        result.problems.append(Mismatch(kind[:-1], rid, f"{len(pages)} pages instead of one"))
    props = {name: plain(value) for name, value in pages[0]["properties"].items()}
    if props.get("Canvas"):
        result.canvas_links += 1
    return props


def _record(result: Verification, label: str, rid: str, reasons: list[str]) -> None:
    if reasons:
        result.mismatched_pages += 1
        result.problems.append(Mismatch(label, rid, "; ".join(reasons)))


# --- every property (the fidelity check of a backfill) -----------------------------------------

#: how far a date property may be from OpenPhone's timestamp (both have milliseconds)
DATE_TOLERANCE = 0.0015


def _date_problem(name: str, found: Any, expected: float | None) -> str | None:
    start = found.get("start") if isinstance(found, dict) else None
    if expected is None:
        return None if start is None else f"{name} is {start!r}, expected none"
    if start is None:
        return f"{name} is empty, expected {expected}"
    moment = datetime.fromisoformat(str(start)).timestamp()
    return None if abs(moment - expected) <= DATE_TOLERANCE else f"{name} is {start!r}"


def _dates(props: Mapping[str, Any], expected: Mapping[str, float | None]) -> list[str]:
    found = (_date_problem(name, props.get(name), value) for name, value in expected.items())
    return [problem for problem in found if problem]


def call_detail_problems(
    props: Mapping[str, Any], call: Call, *, own_number: str, user_name: str, body: str
) -> list[str]:
    """What :func:`call_problems` does not check: dates, participants, the line, the user,
    route and forwarding, recording duration, transcript status, and the page body (the
    whole transcript and summary)."""
    durations = [rec.duration for rec in call.recordings if rec.duration is not None]
    transcript, summary = call.transcript, call.summary
    problems = _compare(
        props,
        {
            "Participants": call.participant,
            "Phone Number Used": own_number,
            "OpenPhone User": user_name,
            "Call Route": call.call_route or "",
            "Forwarded From": call.forwarded_from or "",
            "Forwarded To": call.forwarded_to or "",
            "Recording Duration": sum(durations) if durations else None,
            "Transcript Status": transcript.status if transcript else "absent",
        },
    )
    problems += _dates(
        props,
        {
            "Created At": call.created_at,
            "Answered At": call.answered_at,
            "Completed At": call.completed_at,
        },
    )
    turns = [entry["content"] for entry in (transcript.dialogue or [])] if transcript else []
    in_body = transcript_problem(body, turns)
    if in_body:
        problems.append(f"body: {in_body}")
    lines = [
        *((summary.summary or []) if summary else []),
        *((summary.next_steps or []) if summary else []),
    ]
    problems += [f"body misses {_short(line)}" for line in lines if line not in body]
    return problems


def message_detail_problems(
    props: Mapping[str, Any], message: Message, *, own_number: str
) -> list[str]:
    """What :func:`message_problems` does not check: dates, user, line, and the webhook-only
    fields, empty for a message known from the REST API only."""
    problems = _compare(
        props,
        {
            "User ID": message.user_id or "",
            "OpenPhone Number": own_number,
            "Has Media": False,
            "Media URLs": "",
            "Conversation ID": "",
        },
    )
    return problems + _dates(
        props, {"Created At": message.created_at, "Updated At": message.updated_at}
    )


def verify_details(
    workspace: Workspace,
    notion_pages: Iterable[JSON],
    ids: NotionIds,
    bodies: Mapping[str, str],
    user_names: Mapping[str, str],
) -> list[Mismatch]:
    """Every page's properties beyond :func:`verify`'s, against the workspace (pages of
    resources the workspace does not hold are reported too). ``bodies``: page id → the text
    of its body blocks; ``user_names``: user id → display name."""
    own = {str(n["id"]): str(n["number"]) for n in workspace.phone_numbers}
    problems: list[Mismatch] = []
    for (kind, rid), pages in _index(notion_pages, ids).items():
        for page in pages:
            props = {name: plain(value) for name, value in page["properties"].items()}
            if kind == "calls" and rid in workspace.calls:
                call = workspace.calls[rid]
                reasons = call_detail_problems(
                    props,
                    call,
                    own_number=own[call.phone_number_id],
                    user_name=user_names.get(call.user_id, call.user_id),
                    body=bodies.get(str(page["id"]), ""),
                )
            elif kind == "messages" and rid in workspace.messages:
                message = workspace.messages[rid]
                own_number = own[message.phone_number_id]
                reasons = message_detail_problems(props, message, own_number=own_number)
            else:
                reasons = ["no such resource in OpenPhone"]
            if reasons:
                problems.append(Mismatch(kind[:-1], rid, "; ".join(reasons)))
    return problems
