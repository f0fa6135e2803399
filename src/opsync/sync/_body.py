"""The page body as sections, and what of each section is already on the page (pure).

A rendered body is cut into sections at its ``heading_2`` blocks (``Summary``, ``Next steps``,
``Transcript``, ``Voicemail``). :class:`BodyState` records, per section, the hash of the
content written and how many of its blocks are on the page, in the order they were appended;
a re-render then appends only sections that are new, or the rest of a section cut short, and
never duplicates blocks. ``verify`` means a write may have happened that the state does not
show (a write was under way, or its outcome is unknown): the page's children are listed and
counted before anything more is appended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opsync.render import content_hash
from opsync.render.text import JSON, plain_text

NO_HEADING = ""
"""The section of blocks that come before any heading."""


@dataclass
class SectionState:
    """One section on the page: the hash of its content, its size, and how much is written."""

    hash: str
    total: int
    written: int

    @property
    def complete(self) -> bool:
        return self.written >= self.total


@dataclass
class BodyState:
    """Sections on the page, by name, in page order; see the module docstring."""

    sections: dict[str, SectionState] = field(default_factory=dict)
    verify: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "sections": [[name, s.hash, s.total, s.written] for name, s in self.sections.items()],
            "verify": self.verify,
        }

    @classmethod
    def from_json(cls, data: Any) -> BodyState:
        if not isinstance(data, dict):
            return cls()
        sections = {
            str(name): SectionState(str(digest), int(total), int(written))
            for name, digest, total, written in data.get("sections") or []
        }
        return cls(sections, bool(data.get("verify", False)))


@dataclass(frozen=True)
class Section:
    """A rendered section: its name (the heading's text) and its blocks, heading included."""

    name: str
    blocks: list[JSON]

    @property
    def hash(self) -> str:
        return content_hash({}, self.blocks)


def heading_text(block: JSON) -> str | None:
    """The text of a ``heading_2`` block, else None."""
    if block.get("type") != "heading_2":
        return None
    inner = block.get("heading_2")
    rich = inner.get("rich_text") if isinstance(inner, dict) else None
    if not isinstance(rich, list):
        return None
    return plain_text([item for item in rich if isinstance(item, dict)])


def split_sections(blocks: list[JSON]) -> list[Section]:
    """``blocks`` cut at each ``heading_2``, in order."""
    sections: list[Section] = []
    for block in blocks:
        title = heading_text(block)
        if title is not None or not sections:
            sections.append(Section(NO_HEADING if title is None else title, []))
        sections[-1].blocks.append(block)
    return sections


def pending_blocks(
    sections: list[Section], state: BodyState
) -> tuple[list[tuple[str, JSON]], list[str]]:
    """The blocks still to append, each tagged with its section, and the names of sections
    that changed after they were written (they are left as they are)."""
    pending: list[tuple[str, JSON]] = []
    changed: list[str] = []
    for section in sections:
        known = state.sections.get(section.name)
        if known is None:
            pending.extend((section.name, block) for block in section.blocks)
        elif known.hash != section.hash:
            changed.append(section.name)
        elif not known.complete:
            pending.extend((section.name, block) for block in section.blocks[known.written :])
    return pending, changed


def record_written(
    state: BodyState, sections: list[Section], written: list[tuple[str, JSON]]
) -> None:
    """Count ``written`` blocks (just appended, in order) into ``state``."""
    by_name = {section.name: section for section in sections}
    for name, _ in written:
        known = state.sections.get(name)
        if known is None:
            section = by_name[name]
            known = state.sections[name] = SectionState(section.hash, len(section.blocks), 0)
        known.written += 1


def state_from_children(
    children: list[JSON], sections: list[Section], previous: BodyState
) -> BodyState:
    """What the page's children show is written, grouped by heading. A section keeps its
    recorded hash when it had one, else takes the current rendering's (what a lost write
    would have sent)."""
    current = {section.name: section for section in sections}
    names = set(current) | set(previous.sections)
    counts: dict[str, int] = {}
    name = NO_HEADING
    for block in children:
        title = heading_text(block)
        if title is not None and title in names:
            name = title
        counts[name] = counts.get(name, 0) + 1
    state = BodyState()
    for name, count in counts.items():
        known = previous.sections.get(name)
        section = current.get(name)
        if known is not None:
            state.sections[name] = SectionState(known.hash, max(known.total, count), count)
        elif section is not None:
            state.sections[name] = SectionState(section.hash, len(section.blocks), count)
    return state
