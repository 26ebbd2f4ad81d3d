"""Tell the two WPP formats apart from the header, and what follows from each (encoding, edition,
the longest line accepted)."""

import codecs
import io
import re
from pathlib import Path

import pandas as pd

from .checks import _translated_read_errors
from .errors import WppFormatError
from .streams import READ_BLOCK, _open_binary

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
DEFAULT_MAX_UNCOMPRESSED_BYTES = 1 << 30


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


def _wide_encoding(reader) -> str:
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
