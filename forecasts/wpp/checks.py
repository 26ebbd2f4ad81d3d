"""Checks that span a whole file: repeated keys across chunks, parents that name no location, and
the translation of decoding and parsing errors into WppFormatError with a line number."""

import codecs
import gzip
import zlib

import numpy as np
import pandas as pd

from .errors import WppFormatError
from .streams import READ_BLOCK, _open_binary


def _check_parents(locations: dict) -> None:
    for location in sorted(locations.values(), key=lambda item: item.line):
        if location.parent_code is not None and location.parent_code not in locations:
            raise WppFormatError(
                f"parent code {location.parent_code} of {location.name!r} is not a location in the file.",
                line=location.line,
            )


class _KeyLedger:
    """Every (location, variant, year) key seen so far, to name a repeated one before it is written.

    Keys are packed into int64 and kept sorted with the line each came from, so a chunk is checked
    against all earlier ones with one sort instead of a Python set of tuples.
    """

    def __init__(self):
        self.variant_ids = {}
        self.keys = np.empty(0, dtype=np.int64)
        self.lines = np.empty(0, dtype=np.int64)

    def add(self, records: pd.DataFrame, lines: np.ndarray):
        per_chunk, names = pd.factorize(records["variant"])
        global_ids = np.array(
            [self.variant_ids.setdefault(name, len(self.variant_ids)) for name in names],
            dtype=np.int64,
        )
        codes = records["region_code"].to_numpy(dtype=np.int64)
        years = records["year"].to_numpy(dtype=np.int64)
        keys = np.concatenate([self.keys, (codes << 24) | (global_ids[per_chunk] << 12) | years])
        lines = np.concatenate([self.lines, np.asarray(lines, dtype=np.int64)])
        order = np.argsort(keys, kind="stable")
        self.keys, self.lines = keys[order], lines[order]
        repeated = np.flatnonzero(self.keys[1:] == self.keys[:-1])
        if len(repeated):
            first, second = sorted((self.lines[repeated[0]], self.lines[repeated[0] + 1]))
            raise WppFormatError(
                f"the same location, variant and year as line {first} appears again.", line=second
            )

    def check_not_empty(self):
        if not len(self.keys):
            raise WppFormatError("The file has a header but no data rows.")


class _translated_read_errors:
    """Turn the errors of decoding, unzipping and tokenizing into WppFormatError."""

    def __init__(self, reader):
        self.reader = reader

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if error is None or isinstance(error, WppFormatError):
            return False
        if isinstance(error, UnicodeDecodeError):
            line = _first_undecodable_line(self.reader) if self.reader else None
            raise WppFormatError(
                f"bytes that are not valid {self.reader.encoding if self.reader else 'UTF-8'} "
                "(WPP long files are UTF-8).",
                line=line,
            ) from None
        if isinstance(error, EOFError | gzip.BadGzipFile | zlib.error):
            raise WppFormatError(f"The gzip data is damaged or truncated ({error}).") from None
        if isinstance(error, pd.errors.ParserWarning):
            raise WppFormatError(
                "The CSV is malformed: a data row has more fields than the header."
            ) from None
        if isinstance(error, pd.errors.ParserError | pd.errors.EmptyDataError):
            detail = str(error).replace("Error tokenizing data. C error: ", "")
            raise WppFormatError(f"The CSV is malformed: {detail}") from None
        return False


def _first_undecodable_line(reader) -> int | None:
    """The line of the first byte that does not decode, found block by block (a line may be
    endless), within the size limit."""
    decoder = codecs.getincrementaldecoder(reader.encoding)(errors="strict")
    stream, raw = _open_binary(reader.path)
    lines, total = 0, 0
    with raw, stream:
        while total < reader.max_uncompressed_bytes and (block := stream.read(READ_BLOCK)):
            total += len(block)
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(block)
            except UnicodeDecodeError as error:
                return lines + block.count(b"\n", 0, max(0, error.start - pending)) + 1
            lines += block.count(b"\n")
    return None
