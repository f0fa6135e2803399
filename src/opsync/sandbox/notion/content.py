"""Block children and file uploads of the simulator state."""

from __future__ import annotations

import hashlib
import random

from opsync.clock import Clock
from opsync.sandbox.notion._common import JSON, new_id, parse_id
from opsync.sandbox.notion._paging import listing, paginate
from opsync.sandbox.notion.errors import not_found, validation_error
from opsync.sandbox.notion.model import UPLOAD_TTL, Block, FileUpload
from opsync.sandbox.notion.validation import (
    PARENT_BLOCKS,
    ParsedBlock,
    expect_str,
    page_size,
)

SINGLE_PART_MAX = 20 * 1024 * 1024
MAX_FILENAME_BYTES = 900


class UploadStore:
    """``/v1/file_uploads``: single-part uploads, pending → uploaded, expiring after an hour."""

    def __init__(self, clock: Clock, rng: random.Random, max_file_size: int) -> None:
        self.clock, self.rng, self.max_file_size = clock, rng, max_file_size
        self.uploads: dict[str, FileUpload] = {}

    def create(self, body: JSON) -> FileUpload:
        mode = body.get("mode", "single_part")
        if mode != "single_part":
            raise validation_error(
                f"body failed validation: body.mode `{mode}` is not supported by the simulator "
                "(only `single_part`)."
            )
        filename = body.get("filename")
        if filename is not None:
            filename = expect_str(filename, "body.filename")
            if len(filename.encode()) > MAX_FILENAME_BYTES:
                raise validation_error(
                    f"body failed validation: body.filename.length should be ≤ "
                    f"`{MAX_FILENAME_BYTES}` bytes, instead was `{len(filename.encode())}`."
                )
        content_type = body.get("content_type")
        if content_type is not None:
            content_type = expect_str(content_type, "body.content_type")
        now = self.clock.now()
        upload = FileUpload(new_id(self.rng), filename, content_type, now, now, now + UPLOAD_TTL)
        self.uploads[upload.id] = upload
        return upload

    def get(self, raw_id: str) -> FileUpload:
        upload_id = parse_id(raw_id)
        upload = self.uploads.get(upload_id or "")
        if upload is None:
            raise not_found("file_upload", raw_id)
        upload.refresh(self.clock.now())
        return upload

    def send(
        self, raw_id: str, data: bytes, filename: str | None, content_type: str | None
    ) -> FileUpload:
        upload = self.get(raw_id)
        if upload.status != "pending":
            raise validation_error(
                f"File upload {upload.id} is in status `{upload.status}`; only `pending` "
                "uploads accept content."
            )
        limit = min(SINGLE_PART_MAX, self.max_file_size)
        if len(data) > limit:
            raise validation_error(
                f"The file is {len(data)} bytes, larger than the limit of {limit} bytes "
                "for a single-part upload in this workspace."
            )
        declared = (upload.content_type or "").split(";")[0].strip().lower()
        sent = (content_type or "").split(";")[0].strip().lower()
        if declared and sent and declared != sent:
            raise validation_error(
                f"The content type of the sent file (`{sent}`) does not match the content type "
                f"declared when the upload was created (`{declared}`)."
            )
        upload.content = data
        upload.filename = upload.filename or filename
        upload.content_type = upload.content_type or content_type
        upload.status = "uploaded"
        upload.last_edited_time = self.clock.now()
        return upload

    def list_uploads(self, status: str | None, cursor: str | None, size: object) -> JSON:
        count = page_size(size)
        now = self.clock.now()
        for upload in self.uploads.values():
            upload.refresh(now)
        ids = [u.id for u in self.uploads.values() if status is None or u.status == status]
        chunk, nxt = paginate(ids, cursor, count)
        return listing([self.uploads[i].render("") for i in chunk], nxt, "file_upload")

    def for_attach(self, upload_id: str, path: str) -> JSON:
        upload = self.uploads.get(upload_id)
        if upload is None:
            raise validation_error(f"{path}: Could not find file_upload with ID: {upload_id}.")
        upload.refresh(self.clock.now())
        if upload.status != "uploaded":
            raise validation_error(
                f"{path}: file upload {upload_id} has status `{upload.status}`; only "
                "`uploaded` uploads can be attached."
            )
        return {"filename": upload.filename or "file"}

    def attach(self, upload_id: str) -> None:
        self.uploads[upload_id].expiry_time = None

    def dump(self) -> list[JSON]:
        out = []
        for upload in self.uploads.values():
            item = upload.render("")
            digest = hashlib.sha256(upload.content).hexdigest() if upload.content else None
            item["sha256"] = digest
            out.append(item)
        return out


class BlockStore:
    """Blocks: children of pages and of other blocks (a page id is also a block id)."""

    def __init__(self, clock: Clock, rng: random.Random, uploads: UploadStore) -> None:
        self.clock, self.rng, self.uploads = clock, rng, uploads
        self.blocks: dict[str, Block] = {}

    def check_uploads(self, parsed: list[ParsedBlock], path: str = "body.children") -> None:
        for i, block in enumerate(parsed):
            here = f"{path}[{i}].{block.type}"
            if block.upload_id is not None:
                self.uploads.for_attach(block.upload_id, f"{here}.file_upload.id")
            self.check_uploads(block.children, f"{here}.children")

    def insert(
        self, parent: JSON, children: list[str], parsed: list[ParsedBlock], after: str | None
    ) -> list[Block]:
        """Create ``parsed`` under ``parent``; returns the new first-level blocks."""
        now = self.clock.now()
        made: list[Block] = []
        for spec in parsed:
            block = Block(new_id(self.rng), parent, spec.type, dict(spec.data), now, now)
            self.blocks[block.id] = block
            if spec.upload_id is not None:
                self.uploads.attach(spec.upload_id)
            if spec.children:
                nested = {"type": "block_id", "block_id": block.id}
                self.insert(nested, block.children, spec.children, None)
            made.append(block)
        position = len(children) if after is None else children.index(after) + 1
        children[position:position] = [b.id for b in made]
        return made

    def block(self, raw_id: str) -> Block:
        block = self.blocks.get(parse_id(raw_id) or "")
        if block is None:
            raise not_found("block", raw_id)
        return block

    def parent_block(self, block: Block) -> Block:
        """``block`` as a parent for new children, if its type can have any."""
        toggle_heading = block.type.startswith("heading_") and block.data.get("is_toggleable")
        if block.in_trash:
            raise validation_error(
                "Can't edit block that is archived. You must unarchive the block before editing."
            )
        if block.type not in PARENT_BLOCKS and not toggle_heading:
            raise validation_error(f"Block type {block.type} does not support children.")
        return block

    def list_children(self, children: list[str], cursor: object, size: object, bot_id: str) -> JSON:
        live = [c for c in children if not self.blocks[c].in_trash]
        chunk, nxt = paginate(live, cursor, page_size(size))
        now = self.clock.now()
        return listing([self.blocks[c].render(bot_id, now) for c in chunk], nxt, "block")

    def validate_after(self, children: list[str], after: object) -> str | None:
        if after is None:
            return None
        wanted = parse_id(after)
        if wanted is None or wanted not in children:
            raise validation_error(
                f"body failed validation: body.after `{after}` is not a child of the parent block."
            )
        return wanted

    def dump(self, bot_id: str) -> list[JSON]:
        now = self.clock.now()
        return [b.render(bot_id, now) | {"children": b.children} for b in self.blocks.values()]
