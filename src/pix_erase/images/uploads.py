"""Receiving an upload: the multipart body parsed as it arrives, its file hashed and
written to a staging file in the same pass.

Starlette's form parser spools each file to a temporary file of its own (one write
through a thread per network chunk), which the upload then had to read back to hash it
and copy it to staging: the bytes crossed the disk twice. Here python-multipart's
streaming parser hands over the file's bytes as they arrive; views of them (no copy) are
gathered into blocks of `BLOCK` bytes, and a thread hashes and writes each block while
the next one arrives (one hop per block, the event loop never waits on the disk). The
staging file is opened by the first block's hop and closed by the last one's, so a small
file costs one hop.
"""

import asyncio
import codecs
import hashlib
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from pix_erase.errors import AppError

BLOCK = 1024 * 1024
MAX_FIELD_BYTES = 64 * 1024  # the other fields are read and dropped; none needs more


@dataclass(frozen=True)
class Received:
    """The file part of an upload, staged at `path`."""

    path: Path
    size: int
    sha256: str
    filename: str | None


def too_large(limit: int) -> AppError:
    return AppError(
        "upload_too_large",
        f"The file is larger than the limit of {limit} bytes.",
        413,
        details={"max_bytes": limit},
    )


def malformed(message: str) -> AppError:
    return AppError("bad_request", message, 400)


@dataclass
class _Parts:
    """The parser's callbacks: which part is open, and the file's bytes not yet written."""

    field_name: str
    limit: int
    max_files: int
    max_fields: int
    charset: str
    files: int = 0
    fields: int = 0
    header_name: bytes = b""
    header_value: bytes = b""
    disposition: bytes = b""
    in_file: bool = False  # the open part is the upload's file
    field_bytes: int = 0
    filename: str | None = None
    found: bool = False
    ended: bool = False  # the closing boundary came
    size: int = 0
    pending: list[memoryview] = field(default_factory=list)  # not yet written
    pending_bytes: int = 0

    def on_part_begin(self) -> None:
        self.disposition, self.in_file, self.field_bytes = b"", False, 0

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.header_name.lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        if b"name" not in options:
            raise malformed('The Content-Disposition header field "name" must be provided.')
        name = options[b"name"].decode(self.charset, "replace")
        if b"filename" in options:
            self.files += 1
            if self.files > self.max_files:
                raise malformed(f"Too many files. Maximum number of files is {self.max_files}.")
            if name == self.field_name:
                self.in_file, self.found = True, True
                self.filename = options[b"filename"].decode(self.charset, "replace")
        else:
            self.fields += 1
            if self.fields > self.max_fields:
                raise malformed(f"Too many fields. Maximum number of fields is {self.max_fields}.")

    def on_end(self) -> None:
        self.ended = True

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file:
            self.size += end - start
            if self.size > self.limit:
                raise too_large(self.limit)
            # A view, not a copy: the parser passes the chunk it was given (bytes, which
            # never change) or its own boundary constant.
            self.pending.append(memoryview(data)[start:end])
            self.pending_bytes += end - start
        else:
            self.field_bytes += end - start
            if self.field_bytes > MAX_FIELD_BYTES:
                raise malformed(f"Part exceeded maximum size of {MAX_FIELD_BYTES // 1024}KB.")


class _Staging:
    """The staging file and the hash of what went into it; its methods run in a thread."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.out: BinaryIO | None = None
        self.digest = hashlib.sha256()
        # A cancelled upload discards the file while a write may still be running.
        self.lock = threading.Lock()

    def write(self, block: list[memoryview], last: bool) -> None:
        with self.lock:
            if self.out is None:
                self.out = self.dest.open("wb")
            for view in block:
                self.digest.update(view)
            self.out.writelines(block)
            if last:
                self.out.close()

    def discard(self) -> None:
        with self.lock:
            if self.out is not None:
                self.out.close()
            self.dest.unlink(missing_ok=True)


async def receive_file(
    content_type: str,
    stream: AsyncIterator[bytes],
    dest: Path,
    *,
    limit: int,
    field_name: str = "file",
    max_files: int = 1,
    max_fields: int = 5,
) -> Received:
    """Parse a multipart body from `stream`; its part `field_name` (a file) goes to `dest`.

    413 `upload_too_large` as soon as the file passes `limit` bytes (the rest is never
    read), 422 `missing_file` / `empty_upload`, 400 for a body that is not valid
    multipart or stops before its closing boundary. `dest` is removed when anything fails.
    """
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise malformed("Missing boundary in multipart.")
    charset = params.get(b"charset", b"utf-8").decode("latin-1")
    try:
        charset = codecs.lookup(charset).name
    except LookupError:
        charset = "latin-1"
    parts = _Parts(field_name, limit, max_files, max_fields, charset)
    try:
        parser = _parser(boundary, parts)
    except ValueError as exc:
        raise malformed("Invalid multipart boundary.") from exc
    staging = _Staging(dest)
    # The block being hashed and written while the next one arrives: at most one, so
    # the blocks reach the file in order and no more than two are held in memory.
    writing: asyncio.Future[None] | None = None
    try:
        try:
            async for chunk in stream:
                # The parts keep views of the chunk: it must not change later.
                parser.write(chunk if type(chunk) is bytes else bytes(chunk))
                if parts.pending_bytes >= BLOCK:
                    if writing is not None:
                        await writing
                    writing = _flush(staging, parts, last=False)
            parser.finalize()
        except FormParserError as exc:
            raise malformed("Invalid multipart data.") from exc
        if not parts.ended:  # a cut-off body is not a shorter file
            raise malformed("The multipart body ended before its closing boundary.")
        if not parts.found:
            raise AppError("missing_file", "The multipart field `file` is missing.", 422)
        if parts.size == 0:
            raise AppError("empty_upload", "The uploaded file is empty.", 422)
        if writing is not None:
            await writing
        await _flush(staging, parts, last=True)
    except BaseException:
        if writing is not None:  # its outcome no longer matters; discard waits for it
            writing.add_done_callback(_ignore_outcome)
        await asyncio.to_thread(staging.discard)
        raise
    return Received(dest, parts.size, staging.digest.hexdigest(), parts.filename)


def _parser(boundary: bytes, parts: _Parts) -> MultipartParser:
    return MultipartParser(
        boundary,
        {
            "on_part_begin": parts.on_part_begin,
            "on_header_field": parts.on_header_field,
            "on_header_value": parts.on_header_value,
            "on_header_end": parts.on_header_end,
            "on_headers_finished": parts.on_headers_finished,
            "on_part_data": parts.on_part_data,
            "on_end": parts.on_end,
        },
    )


def _flush(staging: _Staging, parts: _Parts, *, last: bool) -> asyncio.Future[None]:
    """Hand the pending block to a thread that hashes and writes it."""
    block, parts.pending, parts.pending_bytes = parts.pending, [], 0
    loop = asyncio.get_running_loop()
    return loop.run_in_executor(None, staging.write, block, last)


def _ignore_outcome(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()
