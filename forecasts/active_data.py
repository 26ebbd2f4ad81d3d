"""The active dataset in each process's memory: regions, Estimates as arrays, UN projections.

Forecasts read every region's history; asking the database each time costs queries on every
request and gives the same answer until the next import. So each process loads the active data
once per *generation* (the dataset's id and checksum, and its newest backtest) and answers from
memory after that. The generation itself is kept in the cache for a few seconds
(DATASET_GENERATION_SECONDS), so a request usually learns it without a query; an import or a
backtest deletes it, so with a shared cache (Redis) every process sees new data within
GENERATION_CHECK_SECONDS (the process that imported, at once) and with a process-local one within
those seconds. Reads scale out this way: more processes, not more database work.
"""

from __future__ import annotations

import gc
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.core.cache import cache
from django.db.models import Max

from . import rules, search
from .models import BacktestResult, Dataset, DatasetCalibration, Region, YearlyPopulation

if TYPE_CHECKING:
    import numpy as np

GENERATION_KEY = "active-dataset-generation"
DATASET_GENERATION_SECONDS = 10
# How long a process trusts the generation it last read before asking the cache again.
GENERATION_CHECK_SECONDS = 1.0
UN_BANDS = [
    ("Lower 95 PI", "Upper 95 PI", "UN 95% prediction interval"),
    ("Low", "High", "UN Low–High variants"),
]


@dataclass(frozen=True)
class UnProjection:
    """A region's UN projection: year -> (Medium, band lower, band upper) in persons.

    ``band`` names the band: the UN's own 95% prediction interval when the data has it, else its
    Low and High variants; the bounds are None when the data has neither.
    """

    band: str
    by_year: dict[int, tuple[int | None, int | None, int | None]]

    def between(self, first_year: int, last_year: int) -> UnProjection | None:
        years = {y: v for y, v in self.by_year.items() if first_year <= y <= last_year}
        return UnProjection(band=self.band, by_year=years) if years else None


@dataclass
class ActiveData:
    """What a process knows of the active dataset. Built by load(); read-only afterwards except
    for the memos of derived values (calibration tables, outlooks, backtest errors), which are
    computed on first use and live as long as this generation."""

    generation: str
    dataset: Dataset
    regions: dict[int, Region]
    estimates: dict[int, tuple[np.ndarray, np.ndarray]]
    # The default model's calibration table stored at import ({} for data imported before).
    calibration: dict = field(default_factory=dict)
    memo: dict = field(default_factory=dict)

    def region_by_identifier(self, identifier: str) -> Region | None:
        """A region by its code, exact name, ISO3 code or a name people use for it ("USA",
        "South Korea": search.iso3_for_alias), case-insensitive."""
        code = rules.region_code_or_none(identifier)
        if code is not None:
            return self.regions.get(code)
        found = self._names.get(identifier.strip().casefold())
        if found is None:
            iso3 = search.iso3_for_alias(identifier)
            found = self._names.get(iso3.casefold()) if iso3 else None
        return found

    def suggestions(self, identifier: str) -> list[Region]:
        """Regions with data whose names are nearest a misspelt one ("Frnace" -> France)."""
        with_data = {region.name: region for region in self.regions_with_data()}
        return [with_data[name] for name in search.close_names(identifier, list(with_data))]

    @property
    def _names(self) -> dict[str, Region]:
        if "names" not in self.memo:
            names = {}
            for region in self.regions.values():
                if region.iso3:
                    names.setdefault(region.iso3.casefold(), region)
            for region in self.regions.values():
                names[region.name.casefold()] = region  # names win over ISO3 codes
            self.memo["names"] = names
        return self.memo["names"]

    def regions_with_data(self) -> list[Region]:
        return [region for region in self.regions.values() if region.has_data]

    def history(self, code: int) -> tuple[np.ndarray, np.ndarray]:
        """(years, persons) of a region's Estimates; empty arrays for a region without any."""
        import numpy as np

        return self.estimates.get(code, (np.empty(0, dtype=int), np.empty(0)))

    @property
    def last_recorded_year(self) -> int | None:
        """The last year any region's Estimates reach."""
        if "last_year" not in self.memo:
            ends = [int(years[-1]) for years, _ in self.estimates.values() if len(years)]
            self.memo["last_year"] = max(ends, default=None)
        return self.memo["last_year"]

    def un_projections(self) -> dict[int, UnProjection]:
        """Every region's UN projection, loaded on first use (empty when the data has none)."""
        if "un" not in self.memo:
            self.memo["un"] = load_un_projections(self.dataset)
        return self.memo["un"]

    def backtest_mapes(self, method: str, lags: int | str) -> dict[int, dict[int, float]]:
        """code -> {holdout years: MAPE (percent)} of the region's newest backtest of each
        holdout with these settings (services.forecasts.backtest_error picks the one for a forecast)."""
        key = ("mapes", method, lags)
        if key not in self.memo:
            self.memo[key] = _load_backtest_mapes(self.dataset, method, lags)
        return self.memo[key]

    def remember(self, key, compute):
        """The value computed once per generation for ``key`` (outlooks, calibration tables)."""
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]


_loaded: ActiveData | None = None
# (monotonic time until which it holds, generation) of the last read of the generation.
_checked: tuple[float, str | None] = (0.0, None)


def active_data() -> ActiveData | None:
    """This process's copy of the active data, reloaded when the generation changed; None when
    no data is loaded."""
    global _loaded
    generation = dataset_generation()
    if generation is None:
        return None
    if _loaded is None or _loaded.generation != generation:
        try:
            _loaded = _load(generation)
        except Dataset.DoesNotExist:
            # The cache names a dataset this database does not have: another site (or the test
            # suite) shares the cache, or the dataset was deleted since. The database decides.
            forget()
            generation = dataset_generation()
            _loaded = _load(generation) if generation is not None else None
        if gc.get_freeze_count():
            freeze_loaded()  # the old copy may hold cycles, which a frozen object never frees
    return _loaded


def freeze_loaded() -> None:
    """Put every object alive now out of the garbage collector's walks (``gc.freeze``): a web
    worker calls it once warmed up (gunicorn.conf.py), and a reload of the data again.

    A warmed worker holds about 100,000 tracked objects (the modules, this data, its outlooks
    and rendered tables) that live as long as it does, and every full collection walked them
    all: 90-120 ms inside whichever request set it off, the largest of a worker's latency
    spikes (in process, varied forecasts and region pages: p99 28 -> 9 ms frozen). Unfrozen
    first, so that the copy a reload replaced can be collected."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def dataset_generation() -> str | None:
    """A short name of the active data version, for this module and for cache keys.

    Read from the cache at most once per GENERATION_CHECK_SECONDS in a process (every request
    needs it, and asking Redis each time was one of a varied forecast's two round trips, about
    7% of its time); on a cache miss, one query builds it. None when no data is loaded.
    """
    global _checked
    now = time.monotonic()
    if now < _checked[0]:
        return _checked[1]
    generation = _read_generation()
    _checked = (now + GENERATION_CHECK_SECONDS, generation)
    return generation


def _read_generation() -> str | None:
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        dataset = (
            Dataset.objects.filter(is_active=True)
            .annotate(newest_backtest=Max("backtest_runs__id"))
            .values("pk", "checksum", "newest_backtest")
            .first()
        )
        if dataset is None:
            return None
        generation = f"{dataset['pk']}-{dataset['checksum'][:16]}-{dataset['newest_backtest'] or 0}"
        cache.set(GENERATION_KEY, generation, DATASET_GENERATION_SECONDS)
    return generation


def forget() -> None:
    """Drop this process's copy and the cached generation: the data or its backtests changed."""
    global _loaded, _checked
    _loaded = None
    _checked = (0.0, None)
    cache.delete(GENERATION_KEY)


def _load(generation: str) -> ActiveData:
    import numpy as np  # here, not at the top: the site's checks and admin import this module

    dataset_pk = int(generation.split("-", 1)[0])
    dataset = Dataset.objects.get(pk=dataset_pk)
    regions = {region.code: region for region in Region.objects.order_by("sort_order", "code")}
    rows = np.array(
        YearlyPopulation.objects.estimates()
        .order_by("region_id", "year")
        .values_list("region_id", "year", "persons"),
        dtype=np.int64,
    ).reshape(-1, 3)
    estimates = {}
    if len(rows):
        starts = np.flatnonzero(np.r_[True, rows[1:, 0] != rows[:-1, 0]])
        for begin, end in zip(starts, [*starts[1:], len(rows)], strict=True):
            block = rows[begin:end]
            estimates[int(block[0, 0])] = (block[:, 1].copy(), block[:, 2].astype(float))
    calibration = (
        DatasetCalibration.objects.filter(dataset=dataset).values_list("damped", flat=True).first()
    )
    return ActiveData(
        generation=generation,
        dataset=dataset,
        regions=regions,
        estimates=estimates,
        calibration=calibration or {},
    )


def load_un_projections(dataset: Dataset) -> dict[int, UnProjection]:
    """The Medium variant and the widest band the data has, for every region (years after the
    Estimates only: those are projections)."""
    variants = set(dataset.variants or [])
    if rules.MEDIUM not in variants:
        return {}
    lower_name = upper_name = None
    band = ""
    for lower_variant, upper_variant, label in UN_BANDS:
        if lower_variant in variants and upper_variant in variants:
            lower_name, upper_name, band = lower_variant, upper_variant, label
            break
    wanted = [name for name in (rules.MEDIUM, lower_name, upper_name) if name]
    rows = YearlyPopulation.objects.filter(variant__in=wanted).values_list(
        "region_id", "variant", "year", "persons"
    )
    values: dict[int, dict[int, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for code, variant, year, persons in rows:
        values[code][year][variant] = persons
    projections = {}
    for code, years in values.items():
        by_year = {
            year: (found.get(rules.MEDIUM), found.get(lower_name), found.get(upper_name))
            for year, found in sorted(years.items())
            if rules.MEDIUM in found
        }
        if by_year:
            projections[code] = UnProjection(band=band, by_year=by_year)
    return projections


def _load_backtest_mapes(
    dataset: Dataset, method: str, lags: int | str
) -> dict[int, dict[int, float]]:
    lags_filter = {"run__lags__isnull": True} if lags == rules.LAGS_AUTO else {"run__lags": lags}
    rows = (
        BacktestResult.objects.filter(run__dataset=dataset, run__method=method, **lags_filter)
        .order_by("region_code", "-run__created_at", "-run_id")
        .values_list("region_code", "run__holdout", "mape")
    )
    mapes: dict[int, dict[int, float]] = {}
    for code, holdout, mape in rows:
        mapes.setdefault(code, {}).setdefault(holdout, mape)
    return mapes
