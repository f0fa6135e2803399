"""Seeded, pure generator of a realistic workspace: same seed and ``now`` → same workspace.

Calls cover every outcome (answered both ways, missed with and without voicemail, no-answer,
busy, forwarded, canceled, abandoned, AI-handled, conference); answered calls get recordings,
transcripts (many far over 2,000 characters) and summaries with next steps. Calls and
messages from the last few minutes before ``now`` are left mid-life (artefacts pending).
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from typing import Any

from opsync.sandbox.openphone import content
from opsync.sandbox.openphone.models import Direction, iso
from opsync.sandbox.openphone.workspace import Workspace, natural_offsets

DAY = 86_400.0

#: (direction, outcome) cycled through so that every kind of call exists
CALL_KINDS: list[tuple[Direction, str]] = [
    ("incoming", "answered"),
    ("outgoing", "answered"),
    ("incoming", "voicemail"),
    ("incoming", "missed"),
    ("outgoing", "no-answer"),
    ("outgoing", "busy"),
    ("incoming", "forwarded"),
    ("outgoing", "canceled"),
    ("incoming", "abandoned"),
    ("incoming", "answered"),
]


@dataclass(frozen=True)
class WorkspaceSize:
    phone_numbers: int = 3
    users: int = 4
    contacts: int = 10
    counterparts_per_number: int = 4
    calls_per_counterpart: int = 3
    messages_per_counterpart: int = 4
    days: int = 30

    @classmethod
    def small(cls) -> WorkspaceSize:
        return cls()

    @classmethod
    def large(cls) -> WorkspaceSize:
        return cls(6, 12, 120, 25, 6, 10, 90)


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _e164(rng: random.Random, used: set[str]) -> str:
    while True:
        number = (
            f"+1{rng.choice(['415', '212', '312', '646', '737'])}555{rng.randint(100, 9999):04d}"
        )
        if number not in used:
            used.add(number)
            return number


def _users(ws: Workspace, rng: random.Random, count: int, now: float) -> None:
    for index in range(max(1, count)):
        first, last = rng.choice(content.FIRST_NAMES), rng.choice(content.LAST_NAMES)
        created = now - rng.uniform(200, 900) * DAY
        user_id = "US" + content.token(rng, 8)
        ws.users.append(
            {
                "id": user_id,
                "email": f"{_ascii(first)}.{_ascii(last)}{index}@example.com",
                "firstName": first,
                "lastName": last,
                "pictureUrl": f"https://example.com/avatars/{user_id}.png" if index % 2 else None,
                "role": "owner" if index == 0 else ("admin" if index == 1 else "member"),
                "createdAt": iso(created),
                "updatedAt": iso(created + rng.uniform(0, 100) * DAY),
            }
        )


def _phone_numbers(
    ws: Workspace, rng: random.Random, count: int, now: float, used: set[str]
) -> None:
    restricted = {"CA": "unrestricted", "Intl": "restricted", "US": "unrestricted"}
    for index in range(max(1, count)):
        number = _e164(rng, used)
        members = [ws.users[index % len(ws.users)]]
        members += [u for u in rng.sample(ws.users, min(2, len(ws.users))) if u not in members]
        created = now - rng.uniform(100, 700) * DAY
        ws.phone_numbers.append(
            {
                "id": "PN" + content.token(rng, 8),
                "number": number,
                "formattedNumber": f"({number[2:5]}) {number[5:8]}-{number[8:]}",
                "name": content.NUMBER_NAMES[index % len(content.NUMBER_NAMES)],
                "symbol": content.SYMBOLS[index % len(content.SYMBOLS)],
                "groupId": str(rng.randint(1000, 9999)),
                "forward": None,
                "portRequestId": None,
                "portingStatus": "completed" if index == 0 else None,
                "users": [
                    {
                        "id": u["id"],
                        "email": u["email"],
                        "firstName": u["firstName"],
                        "lastName": u["lastName"],
                        "role": u["role"],
                        "groupId": "GR" + content.token(rng, 8),
                    }
                    for u in members
                ],
                "createdAt": iso(created),
                "updatedAt": iso(created),
                "restrictions": {"calling": dict(restricted), "messaging": dict(restricted)},
            }
        )


def _contacts(ws: Workspace, rng: random.Random, count: int, now: float, used: set[str]) -> None:
    for index in range(count):
        first, last = rng.choice(content.FIRST_NAMES), rng.choice(content.LAST_NAMES)
        company = rng.choice(content.COMPANIES)
        created = now - rng.uniform(30, 400) * DAY
        ws.contacts.append(
            {
                "id": content.hex_token(rng, 24),
                "externalId": f"crm-{index:04d}" if index % 3 == 0 else None,
                "source": "public-api" if index % 3 == 0 else "openphone",
                "sourceUrl": f"https://crm.example.com/c/{index}" if index % 3 == 0 else None,
                "defaultFields": {
                    "firstName": first,
                    "lastName": last,
                    "company": company,
                    "role": rng.choice(content.ROLES),
                    "emails": [
                        {
                            "name": "work",
                            "value": f"{_ascii(first)}@{_ascii(company)}.example",
                            "id": content.hex_token(rng, 24),
                        }
                    ],
                    "phoneNumbers": [
                        {
                            "name": "mobile",
                            "value": _e164(rng, used),
                            "id": content.hex_token(rng, 24),
                        }
                    ],
                },
                "customFields": [
                    {
                        "name": "Inbound Lead",
                        "key": "inbound-lead",
                        "id": content.hex_token(rng, 24),
                        "type": "boolean",
                        "value": index % 2 == 0,
                    }
                ],
                "createdAt": iso(created),
                "updatedAt": iso(created + rng.uniform(0, 20) * DAY),
                "createdByUserId": ws.owner_id,
            }
        )


def generate_workspace(seed: int, now: float, size: WorkspaceSize | None = None) -> Workspace:
    """Build a workspace deterministically from ``seed``; ``now`` is epoch seconds."""
    size = size or WorkspaceSize.small()
    rng = random.Random(seed)
    ws = Workspace(seed=seed, org_id="OR" + content.token(rng, 8), rng=random.Random(seed + 1))
    used: set[str] = set()
    _users(ws, rng, size.users, now)
    _phone_numbers(ws, rng, size.phone_numbers, now, used)
    _contacts(ws, rng, size.contacts, now, used)
    contact_numbers = [c["defaultFields"]["phoneNumbers"][0]["value"] for c in ws.contacts]

    plan: list[tuple[float, int, str, dict[str, Any]]] = []
    kind_index = 0
    for number in ws.phone_numbers:
        for slot in range(size.counterparts_per_number):
            known = contact_numbers and slot % 4 != 3
            other = rng.choice(contact_numbers) if known else _e164(rng, used)
            for _ in range(size.calls_per_counterpart):
                direction, outcome = CALL_KINDS[kind_index % len(CALL_KINDS)]
                long_call = kind_index % 5 == 0 and outcome == "answered"
                kind_index += 1
                args = {
                    "phone_number_id": number["id"],
                    "participant": other,
                    "direction": direction,
                    "outcome": outcome,
                    "talk_seconds": rng.randint(900, 1500) if long_call else rng.randint(25, 420),
                    "ai_handled": outcome == "answered" and rng.random() < 0.1,
                    "third_speaker": outcome == "answered" and rng.random() < 0.2,
                }
                plan.append((now - rng.uniform(0.001, size.days) * DAY, len(plan), "call", args))
            for _ in range(size.messages_per_counterpart):
                plan.append(
                    (
                        now - rng.uniform(0.001, size.days) * DAY,
                        len(plan),
                        "message",
                        {
                            "phone_number_id": number["id"],
                            "participants": [other],
                            "text": rng.choice(content.MESSAGES),
                            "direction": rng.choice(["incoming", "outgoing"]),
                            "media": ["image/png"] if rng.random() < 0.2 else None,
                        },
                    )
                )
    # a fresh call with everything still pending, and one that just ended
    first = ws.phone_numbers[0]["id"]
    for ago, talk in ((4.0, 120), (200.0, 150)):
        plan.append(
            (now - ago, len(plan), "call", {"phone_number_id": first, "participant":
             contact_numbers[0] if contact_numbers else _e164(rng, used), "talk_seconds": talk})
        )  # fmt: skip
    for at, _, kind, args in sorted(plan):
        if kind == "call":
            call = ws.add_call(at=at, **args)
            for offset, _stage in natural_offsets(call):
                if call.created_at + offset > now:
                    break
                ws.advance_call(call.id)
        else:
            message = ws.add_message(at=at, **args)
            if message.direction == "outgoing" and at + 5 <= now:
                ws.deliver_message(message.id, at + 5)
    return ws
