"""Receiving an upload: the multipart body parsed as it arrives, its file hashed and
written to a staging file in the same pass.

Starlette's form parser spools each file to a temporary file of its own (one write
through a thread per network chunk), which the upload then had to read back to hash it
and copy it to staging: the bytes crossed the disk twice. Here python-multipart's
streaming parser hands over the file's bytes as they arrive; they are gathered into
blocks of `BLOCK` bytes, and a thread hashes and writes each block (one hop per block,
the event loop never waits on the disk).
"""

import asyncio
import codecs
import hashlib
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
    pending: bytearray = field(default_factory=bytearray)

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
            self.pending += memoryview(data)[start:end]
        else:
            self.field_bytes += end - start
            if self.field_bytes > MAX_FIELD_BYTES:
                raise malformed(f"Part exceeded maximum size of {MAX_FIELD_BYTES // 1024}KB.")


def _write(out: BinaryIO, digest: "hashlib._Hash", block: bytearray) -> None:
    digest.update(block)
    out.write(block)


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
    digest = hashlib.sha256()
    out = await asyncio.to_thread(dest.open, "wb")
    try:
        try:
            async for chunk in stream:
                parser.write(chunk)
                if len(parts.pending) >= BLOCK:
                    await _flush(out, digest, parts)
            parser.finalize()
        except FormParserError as exc:
            raise malformed("Invalid multipart data.") from exc
        if not parts.ended:  # a cut-off body is not a shorter file
            raise malformed("The multipart body ended before its closing boundary.")
        await _flush(out, digest, parts)
        await asyncio.to_thread(out.close)
        if not parts.found:
            raise AppError("missing_file", "The multipart field `file` is missing.", 422)
        if parts.size == 0:
            raise AppError("empty_upload", "The uploaded file is empty.", 422)
    except BaseException:
        out.close()
        await asyncio.to_thread(dest.unlink, missing_ok=True)
        raise
    return Received(dest, parts.size, digest.hexdigest(), parts.filename)


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


async def _flush(out: BinaryIO, digest: "hashlib._Hash", parts: _Parts) -> None:
    if parts.pending:
        block, parts.pending = parts.pending, bytearray()
        await asyncio.to_thread(_write, out, digest, block)
