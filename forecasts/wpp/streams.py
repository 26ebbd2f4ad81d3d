"""Bounded byte streams: a file read through them cannot make memory or work grow without
limit (a gzip bomb, an endless line).
"""

import gzip
import io
from pathlib import Path

import numpy as np

from .errors import WppFormatError

READ_BLOCK = 1 << 20


def _open_binary(path: Path, *, max_bytes=None, max_line_bytes=None):
    """Open a file for reading bytes, unzipping it when it starts with the gzip magic number.

    Returns (stream, raw file). With ``max_bytes`` the stream is a _BoundedStream, which fails
    past that many (unzipped) bytes or at a line longer than ``max_line_bytes``.
    """
    raw = path.open("rb")
    compressed = raw.read(2) == b"\x1f\x8b"
    raw.seek(0)
    stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
    if max_bytes is not None:
        stream = _BoundedStream(
            stream, max_bytes=max_bytes, max_line_bytes=max_line_bytes, compressed=compressed
        )
    return stream, raw


class _BoundedStream(io.BufferedIOBase):
    """A read-only byte stream that raises WppFormatError past a size or at an over-long line.

    A few MB of gzip can expand to terabytes, and a single endless line would be held whole by
    anything that reads by lines (pandas' tokenizer included); checking while streaming keeps
    memory bounded whatever the file. It also notes whether a NUL byte went by.
    """

    def __init__(self, inner, *, max_bytes, max_line_bytes, compressed):
        super().__init__()
        self.inner = inner
        self.max_bytes = max_bytes
        self.max_line_bytes = max_line_bytes
        self.compressed = compressed
        self.total = 0
        self.lines = 0
        self.run = 0
        self.saw_nul = False

    def readable(self):
        return True

    def read(self, size=-1):
        if size is None or size < 0:
            raise io.UnsupportedOperation("read the bounded stream in blocks")
        return self._count(self.inner.read(min(size, READ_BLOCK)))

    read1 = read

    def readline(self, size=-1):
        if size is None or size < 0:
            size = READ_BLOCK
        return self._count(self.inner.readline(size))

    def _count(self, data: bytes) -> bytes:
        self.total += len(data)
        if self.total > self.max_bytes:
            raise WppFormatError(
                f"The file {'expands' if self.compressed else 'is'} to more than "
                f"{self.max_bytes:,} bytes; the limit is WPP_MAX_UNCOMPRESSED_BYTES "
                f"({self.max_bytes:,} bytes)."
            )
        if self.max_line_bytes is not None:
            self._check_lines(data)
        self.saw_nul = self.saw_nul or b"\x00" in data
        return data

    def _check_lines(self, data: bytes) -> None:
        ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
        if len(ends):
            lengths = np.diff(ends, prepend=-1) - 1
            lengths[0] += self.run
            too_long = np.flatnonzero(lengths > self.max_line_bytes)
            if len(too_long):
                self._too_long(self.lines + int(too_long[0]) + 1)
            self.lines += len(ends)
            self.run = len(data) - int(ends[-1]) - 1
        else:
            self.run += len(data)
        if self.run > self.max_line_bytes:
            self._too_long(self.lines + 1)

    def _too_long(self, line):
        raise WppFormatError(
            f"The line is longer than {self.max_line_bytes:,} bytes; WPP rows are far shorter.",
            line=line,
        )
