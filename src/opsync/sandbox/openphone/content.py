"""Text pools and builders for generated names, messages, transcripts and summaries (pure)."""

from __future__ import annotations

import random
import string
from typing import Any

FIRST_NAMES = [
    "Ava", "Liam", "Maya", "Noah", "Zoë", "Ethan", "Priya", "Lucas", "Chloé", "Omar",
    "Hana", "Diego", "Ingrid", "Kwame", "Sofia", "Mateo", "Aisha", "Jonas", "Mei", "Rafael",
]  # fmt: skip
LAST_NAMES = [
    "Nguyen", "García", "Okafor", "Schmidt", "Kowalski", "Haddad", "Tanaka", "Silva",
    "O'Brien", "Johansson", "Patel", "Moreau", "Rossi", "Khan", "Andersen", "Müller",
]  # fmt: skip
COMPANIES = [
    "Acme Dental", "Blue Fern Studio", "Northwind Logistics", "Harbor & Pine Realty",
    "Copperleaf Bakery", "Summit Physical Therapy", "Orbit Solar", "Maple Street Law",
]  # fmt: skip
ROLES = ["Owner", "Office manager", "Buyer", "Founder", "Operations lead", None]
NUMBER_NAMES = ["Main line", "Sales", "Support", "After hours", "Billing", "Front desk"]
SYMBOLS = ["📞", "💼", "🛟", "🌙", "💳", "🏡"]

MESSAGES = [
    "Hi! Is the 3pm slot still available tomorrow?",
    "Thanks for the quick call earlier 🙏",
    "Can you send the invoice again? I can't find it.",
    "Running 10 minutes late, sorry!",
    "Yes, Thursday works for us.",
    "Here's the photo of the damaged part.",
    "Olá! Podemos remarcar para sexta?",
    "Got it — we'll ship the replacement today.",
    "What's the best email to send the contract to?",
    "Confirmed. See you at the site at 9.",
    "Could you call me back when you have a minute?",
    "The payment went through, thanks!",
]

VOICEMAILS = [
    "Hi, this is {name} from {company}. Please call me back about the quote when you can.",
    "Hey, it's {name}. Just checking whether the order shipped. Talk soon.",
    "Hello, {name} here. I need to reschedule Thursday's appointment, call me back please.",
]

_LINES_CALLER = [
    "Hi, thanks for picking up. I'm calling about the order we placed last week.",
    "We were hoping to move the installation to the following Tuesday if that's possible.",
    "The last invoice had two line items that looked duplicated, could you check them?",
    "Our team grew, so we'll probably need three more seats starting next month.",
    "Honestly the previous technician was great, we'd love to have him again.",
    "Can you confirm the warranty covers the replacement parts as well as labour?",
    "I'll need to run this by my business partner before we sign anything.",
    "That sounds reasonable. What would the timeline look like on your side?",
]
_LINES_AGENT = [
    "Of course, let me pull up your account. Could you confirm the billing address?",
    "I can see the order here; it's scheduled to ship from our warehouse on Friday.",
    "Tuesday works. I've tentatively booked the morning slot between 9 and 11.",
    "You're right, the second item was a duplicate — I'll issue a credit note today.",
    "Adding seats is simple; I'll email a revised quote with the volume discount.",
    "Yes, the warranty covers parts and labour for the first twenty-four months.",
    "No problem at all. I'll follow up by email with everything we discussed.",
    "Typically two to three business days, depending on the parts availability.",
]
_LINES_THIRD = [
    "Sorry to jump in — this is the site manager, I can be there on Tuesday morning.",
    "I'm joining from accounting; the credit note should go to our AP inbox please.",
]

SUMMARY_POINTS = [
    "The caller asked to move the installation to next Tuesday.",
    "A duplicated line item on the last invoice was identified.",
    "The customer plans to add three seats next month.",
    "Warranty coverage for parts and labour was confirmed.",
    "The order ships from the warehouse on Friday.",
]
NEXT_STEPS = [
    "Send the revised quote with the volume discount.",
    "Issue a credit note for the duplicated invoice item.",
    "Confirm the Tuesday 9-11 installation slot by email.",
    "Follow up after the customer talks to their business partner.",
]


def token(
    rng: random.Random, length: int, alphabet: str = string.ascii_letters + string.digits
) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def hex_token(rng: random.Random, length: int = 32) -> str:
    return token(rng, length, "0123456789abcdef")


def dialogue(
    rng: random.Random,
    duration: int,
    speakers: list[tuple[str | None, str | None]],
) -> list[dict[str, Any]]:
    """Transcript entries spread over ``duration`` seconds; ``speakers`` = (number, userId).

    Speaker 0 is the Quo user, speaker 1 the external party, any further ones join now and then.
    """
    entries: list[dict[str, Any]] = []
    t = round(rng.uniform(0.4, 2.0), 6)
    turn = 0
    while t < duration - 2:
        if len(speakers) > 2 and rng.random() < 0.12:
            who = rng.randrange(2, len(speakers))
            pool = _LINES_THIRD
        else:
            who = turn % 2
            pool = _LINES_AGENT if who == 0 else _LINES_CALLER
            turn += 1
        content = rng.choice(pool)
        if rng.random() < 0.5:
            content = f"{content} {rng.choice(pool)}"
        length = min(duration - t, round(len(content) / 14 + rng.uniform(0.5, 2.5), 6))
        identifier, user_id = speakers[who]
        entries.append(
            {
                "content": content,
                "start": round(t, 6),
                "end": round(t + length, 6),
                "identifier": identifier,
                "userId": user_id,
            }
        )
        t += length + rng.uniform(0.2, 1.5)
    return entries


def summary_points(rng: random.Random) -> tuple[list[str], list[str]]:
    return rng.sample(SUMMARY_POINTS, rng.randint(2, 4)), rng.sample(NEXT_STEPS, rng.randint(1, 3))


def summary_jobs(rng: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "icon": "📋",
            "name": "Lead qualification",
            "result": {
                "data": [
                    {"name": "Budget confirmed", "value": rng.random() < 0.5},
                    {"name": "Seats", "value": rng.randint(1, 12)},
                    {"name": "Urgency", "value": rng.choice(["low", "medium", "high"])},
                ]
            },
        }
    ]
