"""The world at a glance: every region's forecast change between two years, beside the UN.

One batched fit of every region with data (the default method), cached per data generation and
pair of years like forecast_document, so the map's JSON, the ranking table and its CSV all read
the same numbers and only the first request of a generation pays for the fit. Filtering and
sorting happen on that cached list: they are cheap, and every combination shares one cache entry.
"""

from dataclasses import dataclass

from django.core.cache import cache

from forecasts import rules
from forecasts.active_data import ActiveData
from forecasts.models import Region

from .forecasts import FORECAST_CACHE_SECONDS, forecast_compute, required_data


@dataclass(frozen=True)
class WorldRow:
    """One region between ``start`` and ``end``: persons in each year (recorded when inside its
    history, else forecast), the change in percent, and the UN Medium of the end year with this
    model's difference from it (None where the data has no UN projection)."""

    code: int
    name: str
    kind: str
    iso3: str
    is_country: bool
    ancestors: tuple[int, ...]
    start_population: float | None
    end_population: float | None
    change_percent: float | None
    un_medium: float | None
    un_difference_percent: float | None


@dataclass(frozen=True)
class WorldRanking:
    """The rows a person asked for, in the order asked, and what the page says about them."""

    start: int
    end: int
    rows: list[WorldRow]
    has_un: bool
    failures: list[str]


# UN M49's continents as unions of its subregions. WPP2019 lists Africa, Asia, Europe, ... as rows
# of their own but files the countries under the SDG regions, so a continent has no children in
# the data's tree; this lets a person still narrow the ranking to one.
M49_CONTINENT_SUBREGIONS = {
    903: (910, 911, 912, 913, 914),  # Africa
    935: (5500, 5501, 906, 920, 922),  # Asia
    908: (923, 924, 925, 926),  # Europe
    904: (915, 916, 931),  # Latin America and the Caribbean
    905: (918,),  # Northern America
    909: (927, 928, 954, 957),  # Oceania
}

SORT_KEYS = {
    "name": lambda row: row.name.casefold(),
    "from": lambda row: row.start_population,
    "to": lambda row: row.end_population,
    "change": lambda row: row.change_percent,
    "un": lambda row: row.un_medium,
    "difference": lambda row: row.un_difference_percent,
}


def is_country(region: Region) -> bool:
    """WPP2019 marks countries "Country/Area"; a long file may leave the kind empty, and then a
    region with an ISO3 code is one (aggregates have none)."""
    return region.kind == rules.COUNTRY_KIND or (not region.kind and bool(region.iso3))


def has_un_projections(data: ActiveData) -> bool:
    return rules.MEDIUM in (data.dataset.variants or [])


def recorded_years(data: ActiveData) -> tuple[int, int] | None:
    """The first and last recorded (Estimates) year of any region, None without any."""
    regions = data.regions_with_data()
    if not regions:
        return None
    return min(r.first_year for r in regions), max(r.last_year for r in regions)


def world_default_span(data: ActiveData) -> tuple[int, int]:
    """The last recorded year to rules.WORLD_DEFAULT_END_YEAR (or that year again when the data
    already records it)."""
    years = recorded_years(data)
    start = years[1] if years else rules.WORLD_DEFAULT_END_YEAR
    return start, max(start, rules.WORLD_DEFAULT_END_YEAR)


def check_world_span(data: ActiveData, start: int, end: int) -> None:
    """ForecastError unless [start, end] is a span the rules allow that starts on recorded data."""
    rules.check_span(start, end)
    years = recorded_years(data)
    if years:
        rules.check_recorded_start(start, years[0])


def world_kinds(data: ActiveData) -> list[str]:
    """The kinds a ranking can list: countries first, then the other kinds with data in the
    data's order."""
    kinds = [rules.COUNTRY_KIND]
    for region in data.regions_with_data():
        if region.kind and region.kind not in kinds and not is_country(region):
            kinds.append(region.kind)
    return kinds


def world_parent_regions(data: ActiveData) -> list[Region]:
    """The regions a ranking can be narrowed to: those that contain some countries but not all
    (World and the headings above everything would filter nothing)."""
    countries = [region for region in data.regions_with_data() if is_country(region)]
    counts: dict[int, int] = {}
    for country in countries:
        for code in _ancestors(data, country):
            counts[code] = counts.get(code, 0) + 1
    return [
        region
        for region in data.regions.values()
        if 0 < counts.get(region.code, 0) < len(countries)
    ]


def world_rows(
    *, data: ActiveData | None = None, start: int, end: int, before_compute=None
) -> list[WorldRow]:
    """Every region with data between ``start`` and ``end``, in the data's order; cached per
    data generation and years. ForecastError when the span breaks the rules. ``before_compute``
    is called only when the cache cannot answer (the front doors charge the forecast budget)."""
    data = data or required_data()
    check_world_span(data, start, end)
    key = f"world:{data.generation}:{start}:{end}"
    rows = cache.get(key)
    if rows is None:
        if before_compute is not None:
            before_compute()
        rows = _compute_rows(data, start, end)
        cache.set(key, rows, FORECAST_CACHE_SECONDS)
    return rows


def world_ranking(
    *,
    data: ActiveData | None = None,
    start: int,
    end: int,
    kind: str = rules.COUNTRY_KIND,
    region: int | None = None,
    sort: str | None = None,
    descending: bool = False,
    before_compute=None,
) -> WorldRanking:
    """The regions of ``kind`` (countries by default) inside ``region`` (any ancestor), sorted by
    ``sort`` (a rules.WORLD_SORTS key; None keeps the data's order); rows without a value for it
    come last either way."""
    data = data or required_data()
    rows = world_rows(data=data, start=start, end=end, before_compute=before_compute)
    failures = [row.name for row in rows if row.end_population is None]
    chosen = [
        row
        for row in rows
        if (
            row.is_country
            if kind == rules.COUNTRY_KIND
            else row.kind == kind and not row.is_country
        )
        and (region is None or region in row.ancestors or region == row.code)
    ]
    if sort is not None:
        key = SORT_KEYS[sort]
        known = sorted((row for row in chosen if key(row) is not None), key=key, reverse=descending)
        chosen = known + [row for row in chosen if key(row) is None]
    return WorldRanking(
        start=start,
        end=end,
        rows=chosen,
        has_un=has_un_projections(data),
        failures=failures,
    )


def _compute_rows(data: ActiveData, start: int, end: int) -> list[WorldRow]:
    regions = [region for region in data.regions_with_data() if region.first_year <= end]
    results = _forecasts(data, regions, start, end)
    projections = data.un_projections()
    rows = []
    for region in regions:
        result = results.get(region.code)
        first = last = None
        if result is not None:
            first = _population(result.points[0])
            last = _population(result.points[-1])
        projection = projections.get(region.code)
        medium = projection.by_year.get(end, (None,))[0] if projection else None
        rows.append(
            WorldRow(
                code=region.code,
                name=region.name,
                kind=region.kind,
                iso3=region.iso3,
                is_country=is_country(region),
                ancestors=_ancestors(data, region),
                start_population=first,
                end_population=last,
                change_percent=_percent(last, first),
                un_medium=float(medium) if medium is not None else None,
                un_difference_percent=_percent(last, medium),
            )
        )
    return rows


def _forecasts(data: ActiveData, regions: list[Region], start: int, end: int) -> dict:
    """code -> RegionForecast. One batched fit, without calibrated intervals (the ranking shows
    none); only when a series cannot be fitted (which names it) are the regions fitted one by
    one, so one odd series does not blank the whole map."""
    try:
        results = forecast_compute(
            data=data, regions=regions, start=start, end=end, calibrate=False
        )
    except rules.ForecastError:
        results = []
        for region in regions:
            try:
                results.extend(forecast_compute(data=data, regions=[region], start=start, end=end))
            except rules.ForecastError:
                continue
    return {result.code: result for result in results}


def _population(point) -> float | None:
    """The recorded value inside the history, else the forecast."""
    return point.actual if point.actual is not None else point.value


def _percent(value: float | None, base: float | None) -> float | None:
    if value is None or not base:
        return None
    return (value - base) / base * 100


def _ancestors(data: ActiveData, region: Region) -> tuple[int, ...]:
    """The codes of the regions that contain ``region``, nearest first (a cycle stops the walk),
    then its M49 continent when the data lists that continent apart from the tree."""
    codes: list[int] = []
    parent = data.regions.get(region.parent_id) if region.parent_id is not None else None
    while parent is not None and parent.code not in codes and parent.code != region.code:
        codes.append(parent.code)
        parent = data.regions.get(parent.parent_id) if parent.parent_id is not None else None
    for continent, subregions in M49_CONTINENT_SUBREGIONS.items():
        if continent in data.regions and continent not in codes and set(subregions) & set(codes):
            codes.append(continent)
    return tuple(codes)
