"""The WPP2019 estimates every benchmark reads, and the checksum that names their caches.

Imports only forecasts.wpp (numpy, pandas and forecasts.rules; no Django, no model code), so the
statsforecast venv of bench_peers.py reads the file exactly as the project does.
"""

import hashlib
from pathlib import Path

import numpy as np

from forecasts import wpp

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = ROOT.parent / "shared" / "data" / "WPP2019_POP_F01_1_TOTAL_POPULATION_BOTH_SEXES.csv"
PEERS_CACHE_DIR = ROOT / ".cache" / "bench"


def wpp2019_histories(path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Region code -> (years, persons) of its Estimates, for every region with data."""
    reader = wpp.read(path)
    series: dict[int, list[tuple[int, int]]] = {}
    for chunk in reader.chunks():
        estimates = chunk[chunk["variant"] == wpp.ESTIMATES]
        for code, year, persons in estimates[["region_code", "year", "persons"]].itertuples(
            index=False
        ):
            series.setdefault(int(code), []).append((int(year), int(persons)))
    histories = {}
    for code, rows in series.items():
        rows.sort()
        histories[code] = (
            np.array([year for year, _ in rows]),
            np.array([persons for _, persons in rows], dtype=float),
        )
    return histories


def checksum(path) -> str:
    """The first 16 hex digits of the file's SHA-256: a cache built from another file is not used."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def peers_cache(path) -> Path:
    """Where bench_peers.py writes, and bench_accuracy.py reads, the peers' forecasts of ``path``."""
    return PEERS_CACHE_DIR / f"peers-{checksum(path)}.json"


def parse_windows(text) -> list[tuple[int, int]]:
    """ "1995:10,1985:20" -> [(1995, 10), (1985, 20)]: windows as origin:horizon."""
    return [tuple(int(part) for part in item.split(":")) for item in text.split(",")]


def windows_outside(windows, histories) -> list[str]:
    """The windows (origin, h) whose held-out years are not all recorded, as "origin:h"."""
    last_year = max(int(years[-1]) for years, _ in histories.values())
    return [f"{o}:{h}" for o, h in windows if h < 1 or o + h > last_year]
