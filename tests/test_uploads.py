"""receive_file on a body that arrives in many pieces, as a real server delivers it."""

import asyncio
import hashlib
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pix_erase.errors import AppError
from pix_erase.images.uploads import BLOCK, receive_file
from tests.test_bad_input import multipart


async def pieces(body: bytes, sizes: list[int], *, reuse: bool) -> AsyncIterator[bytes]:
    """`body` cut into pieces of `sizes` (repeated); with `reuse`, each piece is one
    bytearray that is overwritten once the reader asks for the next piece."""
    position, index = 0, 0
    buffer = bytearray()
    while position < len(body):
        size = sizes[index % len(sizes)]
        piece = body[position : position + size]
        position, index = position + size, index + 1
        if reuse:
            buffer[:] = piece
            yield buffer  # type: ignore[misc]  # a careless producer: the type says bytes
            buffer[:] = b"\x00" * len(buffer)
        else:
            yield piece


@pytest.mark.parametrize("reuse", [False, True])
async def test_a_file_in_many_pieces_is_staged_byte_for_byte(tmp_path: Path, reuse: bool) -> None:
    data = random.Random(7).randbytes(2 * BLOCK + 12345)
    data = data.replace(b"\r\n--", b"\r\n-x")  # no accidental boundary inside the file
    body, content_type = multipart(("note", None, b"hello"), ("file", "p.bin", data))
    # Uneven pieces, some cutting the boundary, more than one block in all.
    sizes = [1, 7, 256000, 65536, 3, 300000, 4096]
    dest = tmp_path / "staged"
    received = await receive_file(
        content_type, pieces(body, sizes, reuse=reuse), dest, limit=len(data)
    )
    assert received.size == len(data)
    assert received.filename == "p.bin"
    assert dest.read_bytes() == data
    assert received.sha256 == hashlib.sha256(data).hexdigest()


async def test_a_file_over_the_limit_after_some_blocks_leaves_no_staging_file(
    tmp_path: Path,
) -> None:
    data = bytes(3 * BLOCK)
    body, content_type = multipart(("file", "p.bin", data))
    dest = tmp_path / "staged"
    with pytest.raises(AppError) as refused:
        await receive_file(content_type, pieces(body, [65536], reuse=False), dest, limit=2 * BLOCK)
    assert refused.value.status == 413
    assert not dest.exists()


async def test_an_upload_cancelled_while_a_block_is_written_leaves_no_staging_file(
    tmp_path: Path,
) -> None:
    body, content_type = multipart(("file", "p.bin", bytes(3 * BLOCK)))
    stalled = asyncio.Event()

    async def first_blocks_then_silence() -> AsyncIterator[bytes]:
        async for piece in pieces(body[: 2 * BLOCK + 100], [256000], reuse=False):
            yield piece
        stalled.set()
        await asyncio.Event().wait()  # the client stops sending

    dest = tmp_path / "staged"
    upload = asyncio.create_task(
        receive_file(content_type, first_blocks_then_silence(), dest, limit=4 * BLOCK)
    )
    await stalled.wait()
    upload.cancel()
    with pytest.raises(asyncio.CancelledError):
        await upload
    assert not dest.exists()
