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

import gzip
import hashlib
import io
import re
import shutil
import urllib.error
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
HEADING_KINDS = {"Label/Separator"}
CHUNK_ROWS = 100_000


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


def read(path, *, last_estimate_year=None) -> WppReader:
    """Open a WPP file, detect its format from the header, and return a reader for it."""
    path = Path(path)
    if not path.is_file():
        raise WppFormatError(f"No such file: {path}")
    if path.stat().st_size == 0:
        raise WppFormatError("The file is empty.")
    if last_estimate_year is not None and not YEAR_MIN <= last_estimate_year <= YEAR_MAX:
        raise WppFormatError(f"The last estimate year must be from {YEAR_MIN} to {YEAR_MAX}.")
    header, encoding = _read_header(path)
    file_format = _detect_format(header)
    if file_format == WIDE:
        encoding = _wide_encoding(path)
    reader = WppReader(
        path=path,
        file_format=file_format,
        edition="",
        last_estimate_year=last_estimate_year,
        header=header,
        encoding=encoding,
    )
    if file_format == LONG and last_estimate_year is None:
        with _translated_read_errors(reader):
            reader.last_estimate_year = _detect_last_estimate_year(reader)
    reader.edition = _edition(path, file_format, reader.last_estimate_year)
    return reader


def download(url: str, folder: Path, *, timeout=60) -> Path:
    """Download ``url`` into ``folder`` and return the file's path.

    Every call downloads afresh (a refresh must see the current file); the copy is kept under a
    folder named for the URL, with the URL's file name so the edition can be read from it.
    Raises WppFormatError with advice when the network cannot be reached.
    """
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", url.rsplit("/", 1)[-1]) or "wpp.csv"
    target = Path(folder) / hashlib.sha256(url.encode()).hexdigest()[:16] / name
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out, length=1 << 20)
    except (urllib.error.URLError, OSError, ValueError) as error:
        partial.unlink(missing_ok=True)
        reason = getattr(error, "reason", error)
        raise WppFormatError(
            f"Could not download {url} ({reason}). Without network access, pass a local WPP file "
            "instead: python manage.py import_wpp PATH"
        ) from None
    partial.replace(target)
    return target


def _open_binary(path: Path):
    """Open a file for reading bytes, unzipping it when it starts with the gzip magic number."""
    raw = path.open("rb")
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw
    raw.seek(0)
    return raw, raw


def _read_header(path: Path) -> tuple[list[str], str]:
    """The header's column names, and the encoding the file declares (a BOM) or UTF-8."""
    with _translated_read_errors(None):
        stream, raw = _open_binary(path)
        with raw, stream:
            first_line = stream.readline(1 << 16)
        encoding = "utf-8-sig" if first_line.startswith(b"\xef\xbb\xbf") else "utf-8"
        text = first_line.decode(encoding, errors="replace").strip()
        if not text:
            raise WppFormatError("The first line is empty; expected a header.", line=1)
        rows = pd.read_csv(io.StringIO(text), header=None, dtype=str, keep_default_na=False)
    return [str(name).strip() for name in rows.iloc[0].tolist()], encoding


def _wide_encoding(path: Path) -> str:
    """WPP2019 exports are latin-1; a re-saved copy may be UTF-8. Wide files are small: try both."""
    stream, raw = _open_binary(path)
    with raw, stream:
        content = stream.read()
    try:
        content.decode("utf-8-sig")
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
    stream, raw = _open_binary(reader.path)
    with raw, stream:
        text = io.TextIOWrapper(stream, encoding=reader.encoding, errors="strict", newline="")
        chunks = pd.read_csv(
            text,
            dtype=str,
            keep_default_na=False,
            index_col=False,
            chunksize=chunksize,
            usecols=None if strict else columns,
        )
        next_line = 2
        with warnings.catch_warnings():
            warnings.simplefilter("error", category=pd.errors.ParserWarning)
            for frame in chunks:
                reader.bytes_read = raw.tell()
                yield next_line, frame[columns].fillna("").reset_index(drop=True)
                next_line += len(frame)


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
    stream, raw = _open_binary(reader.path)
    with raw, stream:
        for number, line in enumerate(stream, start=1):
            try:
                line.decode(reader.encoding)
            except UnicodeDecodeError:
                return number
    return None
