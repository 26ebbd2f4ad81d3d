"""Read UN World Population Prospects files into plain records (no Django).

Two formats, told apart by their header:

- WPP2019 wide CSV (file F01, ESTIMATES sheet): a row per location, a column per year, latin-1,
  spaces as thousands separators, ``...`` for no data. Every value is an estimate.
- WPP2022/2024 long CSV (``TotalPopulationBySex``), optionally gzipped, UTF-8 with or without BOM:
  a row per (location, variant, year). The Medium variant holds the estimates up to the last
  estimate year and the UN projection after it; the other variants are projections only.

reader.py streams a file in chunks (streams.py bounds what any file can cost; cells.py checks the
values), download.py fetches one over http(s), and every problem is a WppFormatError naming the
line and column.
"""

from forecasts.rules import ESTIMATES, HEADING_KINDS, MEDIUM

from .download import download
from .errors import WppFormatError
from .formats import LONG, RECORD_COLUMNS, WIDE
from .reader import Location, WppReader, read

__all__ = [
    "ESTIMATES",
    "HEADING_KINDS",
    "LONG",
    "MEDIUM",
    "RECORD_COLUMNS",
    "WIDE",
    "Location",
    "WppFormatError",
    "WppReader",
    "download",
    "read",
]
