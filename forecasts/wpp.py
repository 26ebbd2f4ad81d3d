"""Read UN World Population Prospects files into plain records (no Django).

Two formats, told apart by their header:

- WPP2019 wide CSV (file F01, ESTIMATES sheet): a row per location, a column per year, latin-1,
  spaces as thousands separators, ``...`` for no data. Every value is an estimate.
- WPP2022/2024 long CSV (``TotalPopulationBySex``), optionally gzipped, UTF-8 with or without BOM:
  a row per (location, variant, year). The Medium variant holds the estimates up to the last
  estimate year and the UN projection after it; the other variants are projections only.

Values in the files are thousands of persons; records carry persons as integers.
A reader streams the file in chunks, so memory does not grow with the file, and raises
WppFormatError naming the line and column of the first problem it meets.
"""

import codecs
import gzip
import hashlib
import http.client
import io
import ipaddress
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forecasts.rules import (
    ESTIMATES,
    HEADING_KINDS,
    MEDIUM,
    NAME_MAX_LENGTH,
    REGION_CODE_MAX,
    VARIANT_MAX_LENGTH,
    YEAR_MAX,
    YEAR_MIN,
)

WIDE = "WPP2019 wide"
LONG = "WPP long"

LONG_REQUIRED = ["LocID", "Location", "Variant", "Time", "PopTotal"]
LONG_OPTIONAL = ["ISO3_code", "LocTypeName", "ParentID", "SortOrder"]
WIDE_NAME = "Region, subregion, country or area"
WIDE_REQUIRED = ["Variant", WIDE_NAME, "Country code", "Type", "Parent code"]
RECORD_COLUMNS = ["region_code", "variant", "year", "persons"]
CHUNK_ROWS = 100_000
# Memory bounds: a chunk holds at most CHUNK_CELLS cells and CHUNK_BYTES of text (at the longest
# line allowed), whatever the file, so a hostile file cannot make one chunk huge.
CHUNK_CELLS = 2_000_000
CHUNK_BYTES = 256 << 20
MAX_COLUMNS = 120
# The longest line accepted, per format: real long rows are under 200 bytes, wide rows under 1 KB.
MAX_LINE_BYTES = {LONG: 2048, WIDE: 16384}
HEADER_MAX_BYTES = 1 << 16
READ_BLOCK = 1 << 20
DEFAULT_MAX_UNCOMPRESSED_BYTES = 1 << 30
DEFAULT_DOWNLOAD_MAX_BYTES = 1 << 30
DEFAULT_DOWNLOAD_TIMEOUT_SECONDS = 600
DOWNLOAD_BLOCK = 1 << 16


class WppFormatError(ValueError):
    """The file is not a WPP file this reader accepts; the message names the line and column."""

    def __init__(self, message, *, line=None, column=None):
        self.line = line
        self.column = column
        where = []
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


@dataclass(frozen=True)
class Location:
    code: int
    name: str
    kind: str
    parent_code: int | None
    iso3: str
    sort_order: int
    line: int

    @property
    def is_heading(self):
        return self.kind in HEADING_KINDS


@dataclass
class WppReader:
    """Streams one WPP file. Iterate ``chunks()`` once; afterwards ``locations`` is complete.

    ``chunks()`` yields DataFrames with RECORD_COLUMNS, each checked before it is yielded (a
    (location, variant, year) repeated from any earlier line included). Whole-file checks (a parent
    code that names no location) run after the last chunk, so a caller that writes chunks as they
    come must do so in a transaction it can roll back.
    """

    path: Path
    file_format: str
    edition: str
    last_estimate_year: int | None
    header: list[str]
    encoding: str
    locations: dict[int, Location] = field(default_factory=dict)
    bytes_read: int = 0
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED_BYTES

    def open(self):
        """The file's bytes, unzipped, bounded by the size limit and the format's line length."""
        return _open_binary(
            self.path,
            max_bytes=self.max_uncompressed_bytes,
            max_line_bytes=MAX_LINE_BYTES[self.file_format],
        )

    @property
    def total_bytes(self):
        return self.path.stat().st_size

    def chunks(self) -> Iterator[pd.DataFrame]:
        keys = _KeyLedger()
        parse = _wide_chunks if self.file_format == WIDE else _long_chunks
        with _translated_read_errors(self):
            for records, lines in parse(self):
                keys.add(records, lines)
                yield records
        keys.check_not_empty()
        _check_parents(self.locations)


def read(
    path, *, last_estimate_year=None, max_uncompressed_bytes=DEFAULT_MAX_UNCOMPRESSED_BYTES
) -> WppReader:
    """Open a WPP file, detect its format from the header, and return a reader for it.

    ``max_uncompressed_bytes`` bounds what the file may expand to (a small .gz can hold terabytes);
    every read checks it while streaming, so a gzip bomb fails early instead of filling memory.
    """
    path = Path(path)
    if not path.is_file():
        raise WppFormatError(f"No such file: {path}")
    if path.stat().st_size == 0:
        raise WppFormatError("The file is empty.")
    if last_estimate_year is not None and not YEAR_MIN <= last_estimate_year <= YEAR_MAX:
        raise WppFormatError(f"The last estimate year must be from {YEAR_MIN} to {YEAR_MAX}.")
    header, encoding = _read_header(path)
    file_format = _detect_format(header)
    reader = WppReader(
        path=path,
        file_format=file_format,
        edition="",
        last_estimate_year=last_estimate_year,
        header=header,
        encoding=encoding,
        max_uncompressed_bytes=max_uncompressed_bytes,
    )
    if file_format == WIDE:
        with _translated_read_errors(None):
            reader.encoding = _wide_encoding(reader)
    if file_format == LONG and last_estimate_year is None:
        with _translated_read_errors(reader):
            reader.last_estimate_year = _detect_last_estimate_year(reader)
    reader.edition = _edition(path, file_format, reader.last_estimate_year)
    return reader


def download(
    url: str,
    folder: Path,
    *,
    timeout=60,
    max_bytes=DEFAULT_DOWNLOAD_MAX_BYTES,
    deadline_seconds=DEFAULT_DOWNLOAD_TIMEOUT_SECONDS,
    allow_private=False,
) -> Path:
    """Download ``url`` into ``folder`` and return the file's path.

    Every call downloads afresh (a refresh must see the current file); the copy is kept under a
    folder named for the URL, with the URL's file name so the edition can be read from it.
    The URL comes from an operator's form, so the download is bounded: at most ``max_bytes``,
    within ``deadline_seconds`` overall (``timeout`` is per socket read), only http(s) (redirects
    included), and never to a loopback, private or otherwise internal address unless
    ``allow_private``. A reply cut short fails. Any failure removes the partial file and raises
    WppFormatError saying why, with advice when the network cannot be reached.
    """
    partial = None
    try:
        target = _download_target(url, folder)
        partial = target.with_name(target.name + ".part")
        _check_url(url, allow_private=allow_private)
        opener = urllib.request.build_opener(_CheckedRedirects(allow_private=allow_private))
        with opener.open(url, timeout=timeout) as response, partial.open("wb") as out:
            _copy_response(
                response,
                out,
                url=url,
                max_bytes=max_bytes,
                deadline=time.monotonic() + deadline_seconds,
                deadline_seconds=deadline_seconds,
            )
        partial.replace(target)
        partial = None
    except WppFormatError:
        raise
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        raise WppFormatError(
            f"Could not download {url} ({_reason(error)}). Without network access, pass a local "
            "WPP file instead: python manage.py import_wpp PATH"
        ) from None
    finally:
        if partial is not None:
            partial.unlink(missing_ok=True)
    return target


def _download_target(url: str, folder: Path) -> Path:
    """Where ``url`` is kept: its path's file name (never ``..`` or empty) in a folder per URL."""
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path).rsplit("/", 1)[-1]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).lstrip(".")[-200:] or "wpp.csv"
    target = Path(folder) / hashlib.sha256(url.encode()).hexdigest()[:16] / name
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _reason(error) -> str:
    """A short reason for a failed download (a hostile server's garbage is cut to 200 characters)."""
    reason = getattr(error, "reason", None) or error
    if isinstance(error, http.client.HTTPException):
        reason = f"{type(error).__name__}: {error}"
    return str(reason)[:200]


def _check_url(url: str, *, allow_private: bool, redirected_from: str | None = None) -> None:
    """Refuse anything but http(s), and hosts that resolve to an internal address.

    An operator's URL must not reach the server's own network (loopback, private ranges, cloud
    metadata at link-local addresses); every address the name resolves to is checked.
    """
    parts = urllib.parse.urlsplit(url)
    via = f" (redirected from {redirected_from})" if redirected_from else ""
    if parts.scheme not in ("http", "https"):
        raise WppFormatError(f"Refusing to download {url}{via}: only http and https are allowed.")
    if not parts.hostname:
        raise WppFormatError(f"Could not download {url}: the address has no host name.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if allow_private:
        return
    for *_, sockaddr in socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM):
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if _is_internal(address):
            raise WppFormatError(
                f"Refusing to download {url}{via}: {parts.hostname} is an internal address "
                f"({address}: loopback, private, link-local, multicast, reserved or unspecified). "
                "Set WPP_DOWNLOAD_ALLOW_PRIVATE=1 to allow it."
            )


def _is_internal(address) -> bool:
    if getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to http(s) on an allowed host (urllib would follow ftp:// too)."""

    def __init__(self, *, allow_private: bool):
        super().__init__()
        self.allow_private = allow_private

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        _check_url(newurl, allow_private=self.allow_private, redirected_from=req.full_url)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _copy_response(response, out, *, url, max_bytes, deadline, deadline_seconds) -> None:
    """Copy the body in small reads, checking the size cap and the deadline between reads.

    ``read1`` returns whatever arrived, so a server dripping a byte at a time still meets the
    deadline check. A body shorter than its Content-Length was cut off: http.client returns it
    without complaint, so the bytes are counted here.
    """
    expected = _content_length(response)
    if expected is not None and expected > max_bytes:
        raise WppFormatError(_too_large(url, max_bytes))
    received = 0
    while block := response.read1(DOWNLOAD_BLOCK):
        received += len(block)
        if received > max_bytes:
            raise WppFormatError(_too_large(url, max_bytes))
        if time.monotonic() > deadline:
            raise WppFormatError(
                f"The download of {url} took more than {deadline_seconds} seconds; the limit is "
                "WPP_DOWNLOAD_TIMEOUT_SECONDS."
            )
        out.write(block)
    if expected is not None and received != expected:
        raise WppFormatError(
            f"The download of {url} was cut off: received {received:,} of {expected:,} bytes. "
            "Nothing was changed; try again."
        )


def _content_length(response) -> int | None:
    value = response.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _too_large(url, max_bytes) -> str:
    return (
        f"The download of {url} is larger than {max_bytes:,} bytes; the limit is "
        "WPP_DOWNLOAD_MAX_BYTES."
    )


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


def _read_header(path: Path) -> tuple[list[str], str]:
    """The header's column names, and the encoding the file declares (a BOM) or UTF-8."""
    with _translated_read_errors(None):
        stream, raw = _open_binary(path)
        with raw, stream:
            first_line = stream.readline(HEADER_MAX_BYTES)
        encoding = "utf-8-sig" if first_line.startswith(b"\xef\xbb\xbf") else "utf-8"
        text = first_line.decode(encoding, errors="replace").strip()
        if not text:
            raise WppFormatError("The first line is empty; expected a header.", line=1)
        rows = pd.read_csv(io.StringIO(text), header=None, dtype=str, keep_default_na=False)
    if rows.shape[1] > MAX_COLUMNS:
        raise WppFormatError(
            f"The header has {rows.shape[1]} columns; a WPP file has at most {MAX_COLUMNS}.",
            line=1,
        )
    return [str(name).strip() for name in rows.iloc[0].tolist()], encoding


def _wide_encoding(reader: WppReader) -> str:
    """WPP2019 exports are latin-1; a re-saved copy may be UTF-8: decode block by block to tell."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    stream, raw = reader.open()
    with raw, stream:
        while block := stream.read(READ_BLOCK):
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                return "latin-1"
    return "utf-8-sig"


def _detect_format(header: list[str]) -> str:
    names = set(header)
    if {"LocID", "PopTotal"} & names or {"Time", "Variant", "Location"} <= names:
        missing = [name for name in LONG_REQUIRED if name not in names]
        if missing:
            raise WppFormatError(
                f"Missing column(s) {', '.join(missing)} for a WPP long file.", line=1
            )
        return LONG
    if "Country code" in names or WIDE_NAME in names:
        missing = [name for name in WIDE_REQUIRED if name not in names]
        if missing:
            raise WppFormatError(
                f"Missing column(s) {', '.join(missing)} for a WPP2019 wide file.", line=1
            )
        if not _wide_year_columns(header):
            raise WppFormatError("A WPP2019 wide file needs year columns such as 1950.", line=1)
        return WIDE
    shown = ",".join(header[:6]) + ("..." if len(header) > 6 else "")
    raise WppFormatError(
        f"Unknown header {shown!r}. Expected a WPP2019 wide file (columns Country code, Type, "
        "Parent code, 1950, ...) or a WPP long file (columns LocID, Location, Variant, Time, "
        "PopTotal).",
        line=1,
    )


def _wide_year_columns(header):
    return [name for name in header if re.fullmatch(r"\d{4}", name)]


def _edition(path: Path, file_format: str, last_estimate_year: int | None) -> str:
    match = re.search(r"WPP\s*(\d{4})", path.name, flags=re.IGNORECASE)
    if match:
        return f"WPP{match.group(1)}"
    if file_format == WIDE:
        return "WPP2019"
    return f"WPP (estimates to {last_estimate_year})"


def _csv_chunks(reader: WppReader, columns: list[str], *, strict=True, chunksize=CHUNK_ROWS):
    """Yield (first line number, DataFrame of strings) for the named columns, keeping byte count.

    Strict reading parses every column, so a row with more fields than the header is an error
    rather than a shifted row (pandas' usecols would drop the extra fields silently). A light pass
    that only looks at a few columns may skip that.
    """
    stream, raw = reader.open()
    with raw, stream:
        text = io.TextIOWrapper(stream, encoding=reader.encoding, errors="strict", newline="")
        text._CHUNK_SIZE = 1 << 18  # fewer, larger reads of the bounded stream
        chunks = pd.read_csv(
            text,
            dtype=str,
            keep_default_na=False,
            index_col=False,
            chunksize=min(chunksize, _chunk_rows(reader)),
            usecols=None if strict else columns,
        )
        next_line = 2
        with warnings.catch_warnings():
            warnings.simplefilter("error", category=pd.errors.ParserWarning)
            for frame in chunks:
                reader.bytes_read = raw.tell()
                if stream.saw_nul:
                    _check_no_nul(frame, next_line)
                yield next_line, frame[columns].fillna("").reset_index(drop=True)
                next_line += len(frame)


def _chunk_rows(reader: WppReader) -> int:
    """Rows per chunk such that a chunk stays within CHUNK_CELLS cells and CHUNK_BYTES of text."""
    longest = MAX_LINE_BYTES[reader.file_format]
    return max(1, min(CHUNK_ROWS, CHUNK_CELLS // len(reader.header), CHUNK_BYTES // longest))


def _check_no_nul(frame: pd.DataFrame, first_line: int) -> None:
    """A NUL character is in no real WPP text, and PostgreSQL cannot store one: name where it is."""
    for column in frame.columns:
        bad = frame[column].fillna("").str.contains("\x00", regex=False)
        if bad.any():
            raise WppFormatError(
                "a NUL character (byte 0) is not allowed in a WPP file.",
                line=_first_bad(bad, first_line),
                column=str(column),
            )


def _detect_last_estimate_year(reader: WppReader) -> int:
    """The year before the earliest year of any variant other than Medium (a first, light pass)."""
    earliest = None
    rows = 0
    for first_line, frame in _csv_chunks(reader, ["Variant", "Time"], strict=False):
        rows += len(frame)
        others = frame[frame["Variant"].str.strip() != MEDIUM]
        if len(others):
            years = _whole_numbers(others, "Time", first_line, YEAR_MIN, YEAR_MAX)
            low = int(years.min())
            earliest = low if earliest is None else min(earliest, low)
    reader.bytes_read = 0
    if not rows:
        raise WppFormatError("The file has a header but no data rows.")
    if earliest is None:
        raise WppFormatError(
            "Cannot tell where the estimates end: the file has no variant besides Medium. "
            "Give the last estimate year (--last-estimate-year YEAR)."
        )
    if earliest - 1 < YEAR_MIN:
        raise WppFormatError(
            f"Cannot tell where the estimates end: another variant starts in {earliest}. "
            "Give the last estimate year (--last-estimate-year YEAR)."
        )
    return earliest - 1


def _long_chunks(reader: WppReader):
    columns = LONG_REQUIRED + [name for name in LONG_OPTIONAL if name in reader.header]
    for first_line, frame in _csv_chunks(reader, columns):
        for name in LONG_OPTIONAL:
            if name not in frame:
                frame[name] = ""
        codes = _whole_numbers(frame, "LocID", first_line, 1, REGION_CODE_MAX)
        years = _whole_numbers(frame, "Time", first_line, YEAR_MIN, YEAR_MAX)
        persons = _persons(frame["PopTotal"], first_line, "PopTotal")
        variants = _texts(frame, "Variant", first_line, VARIANT_MAX_LENGTH)
        is_estimate = (variants == MEDIUM) & (years <= reader.last_estimate_year)
        variants = np.where(is_estimate, ESTIMATES, variants)
        _collect_long_locations(reader, frame, codes, first_line)
        records = pd.DataFrame(
            {"region_code": codes, "variant": variants, "year": years, "persons": persons}
        )
        yield records, np.arange(first_line, first_line + len(frame))


def _collect_long_locations(reader, frame, codes, first_line):
    firsts = pd.Series(codes).drop_duplicates()
    for index, code in firsts.items():
        if code in reader.locations:
            continue
        row = frame.iloc[index]
        line = first_line + index
        reader.locations[int(code)] = Location(
            code=int(code),
            name=_name(row["Location"], line, "Location"),
            kind=row["LocTypeName"].strip(),
            parent_code=_optional_code(row["ParentID"], line, "ParentID"),
            iso3=_iso3(row["ISO3_code"], line),
            sort_order=_optional_code(row["SortOrder"], line, "SortOrder")
            or len(reader.locations) + 1,
            line=line,
        )


def _wide_chunks(reader: WppReader):
    """The wide file is a few hundred rows: read whole, then melt to one record per value."""
    year_columns = _wide_year_columns(reader.header)
    for first_line, frame in _csv_chunks(reader, WIDE_REQUIRED + year_columns):
        codes = _whole_numbers(frame, "Country code", first_line, 1, REGION_CODE_MAX)
        variants = _texts(frame, "Variant", first_line, VARIANT_MAX_LENGTH)
        variants = np.char.replace(variants.astype(str), " variant", "")
        for index, code in enumerate(codes):
            line = first_line + index
            parent = _optional_code(frame.at[index, "Parent code"], line, "Parent code")
            reader.locations.setdefault(
                int(code),
                Location(
                    code=int(code),
                    name=_name(frame.at[index, WIDE_NAME], line, WIDE_NAME),
                    kind=frame.at[index, "Type"].strip(),
                    parent_code=parent,
                    iso3="",
                    sort_order=line - 1,
                    line=line,
                ),
            )
        yield from _melt_wide(frame, codes, variants, year_columns, first_line)


def _melt_wide(frame, codes, variants, year_columns, first_line):
    lines = np.arange(first_line, first_line + len(frame))
    parts, part_lines = [], []
    for column in year_columns:
        year = int(column)
        if not YEAR_MIN <= year <= YEAR_MAX:
            raise WppFormatError(
                f"Years must be between {YEAR_MIN} and {YEAR_MAX}.", line=1, column=column
            )
        cells = frame[column].str.replace(r"\s", "", regex=True)
        present = ~cells.isin(["", "..."])
        persons = _persons(cells[present], first_line, column)
        parts.append(
            pd.DataFrame(
                {
                    "region_code": codes[present.to_numpy()],
                    "variant": variants[present.to_numpy()],
                    "year": year,
                    "persons": persons,
                }
            )
        )
        part_lines.append(lines[present.to_numpy()])
    if parts:
        yield pd.concat(parts, ignore_index=True), np.concatenate(part_lines)


def _first_bad(mask: pd.Series, first_line: int) -> int:
    position = int(np.flatnonzero(mask.to_numpy())[0])
    return first_line + int(mask.index[position])


def _whole_numbers(frame, column, first_line, minimum, maximum) -> np.ndarray:
    text = frame[column].str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    bad = numbers.isna() | (numbers % 1 != 0)
    if bad.any():
        line = _first_bad(bad, first_line)
        raise WppFormatError(
            f"{text[line - first_line]!r} is not a whole number.", line=line, column=column
        )
    out_of_range = (numbers < minimum) | (numbers > maximum)
    if out_of_range.any():
        line = _first_bad(out_of_range, first_line)
        raise WppFormatError(
            f"{text[line - first_line]} is outside {minimum}–{maximum}.", line=line, column=column
        )
    return numbers.to_numpy(dtype=np.int64)


def _persons(cells: pd.Series, first_line: int, column: str) -> np.ndarray:
    """Thousands of persons as text -> persons as integers; rejects non-numbers and negatives."""
    text = cells.str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    bad = numbers.isna() | ~np.isfinite(numbers)
    if bad.any():
        line = _first_bad(bad, first_line)
        value = text.iloc[int(np.flatnonzero(bad.to_numpy())[0])]
        raise WppFormatError(f"{value!r} is not a number.", line=line, column=column)
    negative = numbers < 0
    if negative.any():
        line = _first_bad(negative, first_line)
        value = text.iloc[int(np.flatnonzero(negative.to_numpy())[0])]
        raise WppFormatError(
            f"{value} is negative; populations cannot be.", line=line, column=column
        )
    persons = np.rint(numbers.to_numpy(dtype=float) * 1000)
    if (persons > 2**62).any():
        line = _first_bad(pd.Series(persons > 2**62, index=cells.index), first_line)
        raise WppFormatError("The value is too large to be a population.", line=line, column=column)
    return persons.astype(np.int64)


def _texts(frame, column, first_line, max_length) -> np.ndarray:
    text = frame[column].str.strip()
    bad = (text == "") | (text.str.len() > max_length)
    if bad.any():
        line = _first_bad(bad, first_line)
        raise WppFormatError(
            f"must be a non-empty text of at most {max_length} characters.",
            line=line,
            column=column,
        )
    return text.to_numpy(dtype=object)


def _name(value: str, line: int, column: str) -> str:
    name = value.strip()
    if not name or len(name) > NAME_MAX_LENGTH:
        raise WppFormatError(
            f"A location name must be 1–{NAME_MAX_LENGTH} characters.", line=line, column=column
        )
    return name


def _optional_code(value: str, line: int, column: str) -> int | None:
    text = value.strip()
    if text in ("", "0"):
        return None
    if not text.isdigit() or int(text) > REGION_CODE_MAX:
        raise WppFormatError(f"{text!r} is not a location code.", line=line, column=column)
    return int(text)


def _iso3(value: str, line: int) -> str:
    text = value.strip()
    if len(text) > 3:
        raise WppFormatError(f"{text!r} is not an ISO3 code.", line=line, column="ISO3_code")
    return text


def _check_parents(locations: dict[int, Location]) -> None:
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


def _first_undecodable_line(reader: WppReader) -> int | None:
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
