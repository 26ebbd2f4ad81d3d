"""Write a WPP file's records into the database, replacing what was there.

Call ``replace_data`` inside a transaction: it deletes the current regions and values, streams the
new values in (COPY on PostgreSQL, batched bulk_create elsewhere) and then the regions. Foreign keys
are checked at commit, so values may arrive before their regions. Any error rolls everything back.
"""

import io
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection

from . import search, wpp
from .models import Region, YearlyPopulation

BULK_BATCH_SIZE = 5000


@dataclass(frozen=True)
class LoadCounts:
    regions: int
    values: int
    first_year: int | None
    last_year: int | None
    variants: list[str]


def replace_data(
    reader: wpp.WppReader, *, progress: Callable[[int], None] | None = None
) -> LoadCounts:
    """Replace all regions and values with the file's; ``progress`` gets the bytes read so far."""
    _delete_current_data()
    write = _copy_values if connection.vendor == "postgresql" else _bulk_create_values
    values = 0
    first_year = last_year = None
    variants = set()
    spans = {}
    for records in reader.chunks():
        write(records)
        _widen_estimate_spans(spans, records)
        values += len(records)
        low, high = int(records["year"].min()), int(records["year"].max())
        first_year = low if first_year is None else min(first_year, low)
        last_year = high if last_year is None else max(last_year, high)
        variants.update(records["variant"].unique())
        if progress:
            progress(reader.bytes_read)
    _create_regions(reader.locations, spans)
    _refresh_planner_statistics()
    return LoadCounts(
        regions=len(reader.locations),
        values=values,
        first_year=first_year,
        last_year=last_year,
        variants=sorted(variants, key=lambda name: (name != wpp.ESTIMATES, name)),
    )


def _refresh_planner_statistics():
    """PostgreSQL plans (and the admin's row estimate) use table statistics; a load changes them."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {YearlyPopulation._meta.db_table}, {Region._meta.db_table}")


def _delete_current_data():
    """Delete with plain DELETEs: readers keep seeing the old data until the import commits."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {YearlyPopulation._meta.db_table}")
        cursor.execute(f"DELETE FROM {Region._meta.db_table}")


def _copy_values(records):
    buffer = io.StringIO()
    records[wpp.RECORD_COLUMNS].to_csv(buffer, header=False, index=False)
    buffer.seek(0)
    table = YearlyPopulation._meta.db_table
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            f"COPY {table} (region_code, variant, year, persons) FROM STDIN WITH (FORMAT csv)",
            buffer,
        )


def _bulk_create_values(records):
    YearlyPopulation.objects.bulk_create(
        (
            YearlyPopulation(region_id=code, variant=variant, year=year, persons=persons)
            for code, variant, year, persons in records[wpp.RECORD_COLUMNS].itertuples(index=False)
        ),
        batch_size=BULK_BATCH_SIZE,
    )


def _widen_estimate_spans(spans: dict[int, tuple[int, int]], records):
    """Track each region's first and last Estimates year as the chunks go by."""
    estimates = records[records["variant"] == wpp.ESTIMATES]
    for code, first, last in (
        estimates.groupby("region_code")["year"].agg(["min", "max"]).itertuples()
    ):
        known = spans.get(code)
        spans[code] = (min(first, known[0]), max(last, known[1])) if known else (first, last)


def _create_regions(locations: dict[int, wpp.Location], spans: dict[int, tuple[int, int]]):
    """The file's locations as Regions; a country without an ISO3 code in the file (WPP2019 has
    none) gets the one ISO 3166 gives its UN M49 code, so "FRA" finds France on every edition."""
    Region.objects.bulk_create(
        (
            Region(
                code=location.code,
                name=location.name,
                kind=location.kind,
                parent_id=location.parent_code,
                iso3=location.iso3 or search.iso3_for(location.code, location.kind),
                sort_order=location.sort_order,
                first_year=spans.get(location.code, (None, None))[0],
                last_year=spans.get(location.code, (None, None))[1],
            )
            for location in locations.values()
        ),
        batch_size=BULK_BATCH_SIZE,
    )
