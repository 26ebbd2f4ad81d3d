"""Reads the site, API, admin and commands share."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Q

from . import modeling, wpp
from .models import (
    BacktestResult,
    BacktestRun,
    Dataset,
    ForecastRun,
    Region,
    YearlyPopulation,
    region_code_or_none,
)


class RegionLookupError(ValueError):
    """Some asked-for regions are unknown or cannot be forecast; the message names them."""


def dataset_active() -> Dataset | None:
    return Dataset.objects.filter(is_active=True).first()


DATASET_GENERATION_KEY = "active-dataset-generation"
DATASET_GENERATION_SECONDS = 10


def dataset_generation() -> str | None:
    """A short name of the active data version for cache keys, itself cached for a few seconds.

    It lets a cached answer be found without a database query. An import deletes it, so a shared
    cache (Redis) sees new data at once and a process-local cache within
    DATASET_GENERATION_SECONDS. None when no data is loaded.
    """
    generation = cache.get(DATASET_GENERATION_KEY)
    if generation is None:
        dataset = dataset_active()
        if dataset is None:
            return None
        generation = f"{dataset.pk}-{dataset.checksum[:16]}"
        cache.set(DATASET_GENERATION_KEY, generation, DATASET_GENERATION_SECONDS)
    return generation


def region_series(*, region: Region, variant: str = wpp.ESTIMATES, first_year=None, last_year=None):
    """(years, persons) of one region's variant, ordered by year."""
    rows = (
        YearlyPopulation.objects.for_region(region)
        .variant(variant)
        .between(first_year, last_year)
        .order_by("year")
        .values_list("year", "persons")
    )
    years = [year for year, _ in rows]
    persons = [persons for _, persons in rows]
    return years, persons


def regions_estimates(*, codes: Iterable[int]) -> dict[int, tuple[list[int], list[int]]]:
    """code -> (years, persons) of the Estimates of several regions, in one query."""
    series = defaultdict(lambda: ([], []))
    rows = (
        YearlyPopulation.objects.estimates()
        .filter(region_id__in=list(codes))
        .order_by("region_id", "year")
        .values_list("region_id", "year", "persons")
    )
    for code, year, persons in rows:
        years, values = series[code]
        years.append(year)
        values.append(persons)
    return dict(series)


def regions_for_forecast(*, identifiers: Iterable[str]) -> list[Region]:
    """Resolve codes, exact names or ISO3 codes to regions with data, in the order given.

    Raises RegionLookupError naming every identifier that matches no region, or a region that has
    no data (a heading row), or when the list is empty or longer than modeling.MAX_REGIONS.
    """
    wanted = [str(item).strip() for item in identifiers if str(item).strip()]
    if not wanted:
        raise RegionLookupError("Choose at least one region.")
    if len(wanted) > modeling.MAX_REGIONS:
        raise RegionLookupError(
            f"Choose at most {modeling.MAX_REGIONS} regions; {len(wanted)} were given."
        )
    codes = [code for item in wanted if (code := region_code_or_none(item)) is not None]
    names = [item for item in wanted if region_code_or_none(item) is None]
    match = Q(code__in=codes)
    for name in names:
        match |= Q(name__iexact=name) | Q(iso3__iexact=name)
    found = list(Region.objects.filter(match)) if codes or names else []
    regions, unknown, without_data = [], [], []
    for item in wanted:
        region = _match_identifier(item, found)
        if region is None:
            unknown.append(item)
        elif not region.has_data:
            without_data.append(region.name)
        elif region not in regions:
            regions.append(region)
    problems = []
    if unknown:
        problems.append("Unknown region(s): " + ", ".join(repr(item) for item in unknown) + ".")
    if without_data:
        problems.append(
            "No population data (a heading, not a region): " + ", ".join(without_data) + "."
        )
    if problems:
        raise RegionLookupError(" ".join(problems))
    return regions


def _match_identifier(item: str, regions: list[Region]) -> Region | None:
    code = region_code_or_none(item)
    if code is not None:
        return next((region for region in regions if region.code == code), None)
    lowered = item.casefold()
    return next(
        (region for region in regions if region.name.casefold() == lowered),
        next(
            (region for region in regions if region.iso3 and region.iso3.casefold() == lowered),
            None,
        ),
    )


def forecast_runs(*, region_code: int | None = None):
    """Past runs, newest first; only those that include ``region_code`` when given."""
    runs = ForecastRun.objects.select_related("dataset")
    if region_code is not None:
        runs = runs.filter(points__region_code=region_code).distinct()
    return runs


# --- Site: the region hierarchy (added for the HTML site, issue 3) ---


def region_tree() -> list[tuple[Region, int]]:
    """Every region once with its depth, depth-first from the roots (World), children in file order.

    A region whose parent is not in the table (or that sits in a cycle of parents) is listed as a
    root, so no region is ever left out.
    """
    regions = list(Region.objects.order_by("sort_order", "code"))
    codes = {region.code for region in regions}
    children = defaultdict(list)
    roots = []
    for region in regions:
        if region.parent_id in codes and region.parent_id != region.code:
            children[region.parent_id].append(region)
        else:
            roots.append(region)
    ordered, seen = [], set()
    for root in [*roots, *regions]:
        stack = [(root, 0)]
        while stack:
            region, depth = stack.pop()
            if region.code in seen:
                continue
            seen.add(region.code)
            ordered.append((region, depth))
            stack.extend((child, depth + 1) for child in reversed(children[region.code]))
    return ordered


# --- API: a region's variants (added for the REST API, issue 4) ---


def region_variants(*, region: Region) -> list[str]:
    """The variants (Estimates, Medium, ...) the data holds for a region, Estimates first."""
    variants = (
        YearlyPopulation.objects.for_region(region)
        .order_by("variant")
        .values_list("variant", flat=True)
        .distinct()
    )
    return sorted(variants, key=lambda variant: (variant != wpp.ESTIMATES, variant))


# --- Accuracy and UN comparison (issue 6) ---

UN_MEDIUM = "Medium"
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


def un_projections(
    *, dataset: Dataset, codes: Iterable[int], first_year: int, last_year: int
) -> dict[int, UnProjection]:
    """code -> the UN projection for years in [first_year, last_year], for regions that have one.

    Empty when the dataset has no Medium variant (WPP2019's estimates file has none). Years of
    the Estimates are not projections and are not included.
    """
    variants = set(dataset.variants or [])
    if UN_MEDIUM not in variants:
        return {}
    lower_name = upper_name = None
    band = ""
    for lower_variant, upper_variant, label in UN_BANDS:
        if lower_variant in variants and upper_variant in variants:
            lower_name, upper_name, band = lower_variant, upper_variant, label
            break
    wanted = [name for name in (UN_MEDIUM, lower_name, upper_name) if name]
    rows = (
        YearlyPopulation.objects.filter(region_id__in=list(codes), variant__in=wanted)
        .between(first_year, last_year)
        .values_list("region_id", "variant", "year", "persons")
    )
    values: dict[int, dict[int, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for code, variant, year, persons in rows:
        values[code][year][variant] = persons
    projections = {}
    for code, years in values.items():
        by_year = {
            year: (found.get(UN_MEDIUM), found.get(lower_name), found.get(upper_name))
            for year, found in sorted(years.items())
            if UN_MEDIUM in found
        }
        if by_year:
            projections[code] = UnProjection(band=band, by_year=by_year)
    return projections


def backtest_latest(*, dataset: Dataset | None):
    """The newest backtest run of ``dataset``, or None."""
    if dataset is None:
        return None
    return BacktestRun.objects.filter(dataset=dataset).first()


def backtest_results(*, backtest_run) -> list:
    """A backtest run's regions, lowest error first."""
    return list(backtest_run.results.order_by("mape", "region_code"))


def region_backtest_mapes(
    *, dataset: Dataset, method: str, lags: int | str, codes: Iterable[int]
) -> dict[int, float]:
    """code -> MAPE (percent) of the region's newest backtest on ``dataset`` with these settings."""
    lags_filter = Q(run__lags__isnull=True) if lags == modeling.LAGS_AUTO else Q(run__lags=lags)
    rows = (
        BacktestResult.objects.filter(
            lags_filter, run__dataset=dataset, run__method=method, region_code__in=list(codes)
        )
        .order_by("region_code", "-run__created_at", "-run_id")
        .values_list("region_code", "mape")
    )
    mapes: dict[int, float] = {}
    for code, mape in rows:
        mapes.setdefault(code, mape)
    return mapes
