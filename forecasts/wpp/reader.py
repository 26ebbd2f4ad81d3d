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

import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forecasts.rules import (
    ESTIMATES,
    HEADING_KINDS,
    MEDIUM,
    REGION_CODE_MAX,
    VARIANT_MAX_LENGTH,
    YEAR_MAX,
    YEAR_MIN,
)

from .cells import _first_bad, _iso3, _name, _optional_code, _persons, _texts, _whole_numbers
from .checks import _check_parents, _KeyLedger, _translated_read_errors
from .errors import WppFormatError
from .formats import (
    CHUNK_BYTES,
    CHUNK_CELLS,
    CHUNK_ROWS,
    DEFAULT_MAX_UNCOMPRESSED_BYTES,
    LONG,
    LONG_OPTIONAL,
    LONG_REQUIRED,
    MAX_LINE_BYTES,
    WIDE,
    WIDE_NAME,
    WIDE_REQUIRED,
    _detect_format,
    _edition,
    _read_header,
    _wide_encoding,
    _wide_year_columns,
)
from .streams import _open_binary


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
