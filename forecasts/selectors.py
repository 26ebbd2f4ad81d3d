"""Reads the site, API, admin and commands share (the active data's in-memory reads are in
active_data.py)."""

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Exists, OuterRef

from . import rules, search
from .active_data import ActiveData, active_data
from .models import (
    BacktestRun,
    Dataset,
    ForecastPoint,
    ForecastRun,
    Region,
    YearlyPopulation,
)


class RegionLookupError(ValueError):
    """Some asked-for regions are unknown or cannot be forecast; the message names them."""


def dataset_active() -> Dataset | None:
    return Dataset.objects.filter(is_active=True).first()


def region_series(
    *, region: Region, variant: str = rules.ESTIMATES, first_year=None, last_year=None
):
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


def regions_for_forecast(
    *, data: ActiveData | None = None, identifiers: Iterable[str]
) -> list[Region]:
    """Resolve codes, exact names or ISO3 codes to regions with data, in the order given
    (``data``: the active data the caller has resolved; resolved here when not given).

    Raises RegionLookupError naming every identifier that matches no region, or a region that has
    no data (a heading row), or when the list is empty or longer than rules.MAX_REGIONS.
    """
    wanted = [str(item).strip() for item in identifiers if str(item).strip()]
    try:
        rules.check_region_count(len(wanted))
    except rules.ForecastError as error:
        raise RegionLookupError(str(error)) from None
    data = data or active_data()
    regions, unknown, without_data = [], [], []
    for item in wanted:
        region = data.region_by_identifier(item) if data else None
        if region is None:
            near = data.suggestions(item) if data else []
            hint = f" (did you mean {' or '.join(r.name for r in near[:2])}?)" if near else ""
            unknown.append(repr(item) + hint)
        elif not region.has_data:
            without_data.append(region.name)
        elif region not in regions:
            regions.append(region)
    problems = []
    if unknown:
        problems.append("Unknown region(s): " + ", ".join(unknown) + ".")
    if without_data:
        problems.append(
            "No population data (a heading, not a region): " + ", ".join(without_data) + "."
        )
    if problems:
        raise RegionLookupError(" ".join(problems))
    return regions


def region_search(query: str, *, data: ActiveData | None = None) -> tuple[list[Region], list]:
    """/regions/?q=: regions whose name contains the query or whose code, ISO3 or common name
    ("USA", "UK") it is; and, when none does, the regions with the nearest names ("Frnace" ->
    France: trigram similarity on PostgreSQL, difflib elsewhere) as suggestions."""
    regions = Region.objects.select_related("parent")
    matches = list(regions.search(query).order_by("sort_order", "code"))
    iso3 = search.iso3_for_alias(query)
    if iso3 and not any(region.iso3 == iso3 for region in matches):
        matches = list(regions.filter(iso3=iso3)) + matches
    if matches:
        return matches, []
    data = data or active_data()
    names = [region.name for region in data.regions.values()] if data else []
    return [], search.regions_like(regions, query, names=names)


def forecast_runs(*, region_code: int | None = None):
    """Past runs, newest first; only those that include ``region_code`` when given."""
    runs = ForecastRun.objects.select_related("dataset")
    if region_code is not None:
        # EXISTS, not a join with DISTINCT: PostgreSQL walks the runs newest first and stops at
        # the page's last one, instead of joining and sorting every point of the region (a
        # region page's "latest runs" took 3-4 times as long with thousands of runs stored).
        points = ForecastPoint.objects.filter(run=OuterRef("pk"), region_code=region_code)
        runs = runs.filter(Exists(points))
    return runs


def region_run_ids(*, region_code: int):
    """The ids of the runs that include ``region_code``, newest first, once per point: read
    backwards from the end of the points' (region_code, run) index, so the first few cost one
    short walk. Ordered by the column: "-run" would follow ForecastRun's own ordering through a
    join and walk the runs from the oldest."""
    points = ForecastPoint.objects.filter(region_code=region_code)
    return points.order_by("-region_code", "-run_id").values_list("run_id", flat=True)


def region_latest_runs(*, region_code: int, limit: int) -> list[ForecastRun]:
    """The newest ``limit`` runs that include ``region_code``, newest first: for the region's
    page (0.1 ms with 18,000 runs stored, where the EXISTS of ``forecast_runs``, which walks the
    runs newest first until enough include the region, took 3-9 ms on the page's first drawing)."""
    ids = list(region_run_ids(region_code=region_code).distinct()[:limit])
    return list(ForecastRun.objects.select_related("dataset").filter(pk__in=ids).order_by("-pk"))


# --- The region hierarchy ---


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


# --- A region's variants ---


def region_variants(*, region: Region) -> list[str]:
    """The variants (Estimates, Medium, ...) the data holds for a region, Estimates first."""
    variants = (
        YearlyPopulation.objects.for_region(region)
        .order_by("variant")
        .values_list("variant", flat=True)
        .distinct()
    )
    return sorted(variants, key=lambda variant: (variant != rules.ESTIMATES, variant))


# --- Accuracy ---


def backtest_latest(*, dataset: Dataset | None):
    """The newest backtest run of ``dataset``, or None."""
    if dataset is None:
        return None
    return BacktestRun.objects.filter(dataset=dataset).first()


def backtest_results(*, backtest_run) -> list:
    """A backtest run's regions, lowest error first."""
    return list(backtest_run.results.order_by("mape", "region_code"))


def accuracy_summary(*, dataset: Dataset | None) -> list[BacktestRun]:
    """The newest backtest of each site model at each horizon of rules.ACCURACY_HOLDOUTS, when it
    measured the model as the code computes it now (BacktestRun.is_current), in the order of
    rules.SITE_MODELS then horizon; horizons without such a backtest are left out."""
    return [run for run in _newest_site_backtests(dataset).values() if run.is_current]


def accuracy_earlier(*, dataset: Dataset | None) -> list[BacktestRun]:
    """The newest backtests of site models and horizons that measured an earlier version of the
    model: left out of accuracy_summary until `backtest --site --if-outdated` replaces them."""
    return [run for run in _newest_site_backtests(dataset).values() if not run.is_current]


def accuracy_outdated(*, dataset: Dataset | None) -> list[tuple[str, int | str, int]]:
    """(method, lags, holdout) of the site's figures that ``dataset`` lacks or that measured
    another version of the model: what `backtest --site --if-outdated` computes again."""
    if dataset is None:
        return []
    newest = _newest_site_backtests(dataset)
    return [key for key in _site_backtest_keys() if key not in newest or not newest[key].is_current]


def _newest_site_backtests(dataset: Dataset | None) -> dict:
    """{(method, lags, holdout): newest backtest} of the site models on ``dataset``, in the
    order of rules.SITE_MODELS then horizon."""
    if dataset is None:
        return {}
    newest = {}
    for run in BacktestRun.objects.filter(
        dataset=dataset, holdout__in=rules.ACCURACY_HOLDOUTS
    ).select_related("dataset"):
        newest.setdefault((run.method, run.lags_choice, run.holdout), run)
    return {key: newest[key] for key in _site_backtest_keys() if key in newest}


def _site_backtest_keys() -> list[tuple[str, int | str, int]]:
    return [
        (method, lags, holdout)
        for method, lags in rules.SITE_MODELS
        for holdout in rules.ACCURACY_HOLDOUTS
    ]
