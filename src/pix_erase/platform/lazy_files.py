"""A sequence of files read one at a time: hands a pool process many inputs by name.

Pickling a `FileSequence` sends paths, not contents, so a job over 50 large images costs
the parent no memory for them and the pipe carries a few bytes; the pool process reads
each file when it is asked for that item.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import overload


class FileSequence(Sequence[bytes]):
    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = list(paths)

    def __len__(self) -> int:
        return len(self.paths)

    @overload
    def __getitem__(self, index: int) -> bytes: ...

    @overload
    def __getitem__(self, index: slice) -> "FileSequence": ...

    def __getitem__(self, index: int | slice) -> "bytes | FileSequence":
        if isinstance(index, slice):
            return FileSequence(self.paths[index])
        return self.paths[index].read_bytes()
