"""Write a synthetic WPP long file the size of the official WPP2024_TotalPopulationBySex.csv.gz.

Same columns and layout as ../shared/data/WPP2022_TotalPopulationBySex_excerpt.csv: a hierarchy of
locations (World, regions, subregions, countries), Medium 1950–2100 and the other deterministic and
probabilistic variants over the projection years. About 720,000 rows. Deterministic: a seed.

    python benchmarks/generate_wpp_full.py /tmp/WPP2024_TotalPopulationBySex.csv.gz
"""

import argparse
import csv
import gzip
import random
from pathlib import Path

HEADER = [
    "SortOrder",
    "LocID",
    "Notes",
    "ISO3_code",
    "ISO2_code",
    "SDMX_code",
    "LocTypeID",
    "LocTypeName",
    "ParentID",
    "Location",
    "VarID",
    "Variant",
    "Time",
    "MidPeriod",
    "PopMale",
    "PopFemale",
    "PopTotal",
    "PopDensity",
]
LAST_ESTIMATE_YEAR = 2023
VARIANTS = [
    (2, "Medium"),
    (3, "High"),
    (4, "Low"),
    (5, "Constant fertility"),
    (6, "Instant replacement"),
    (7, "Zero migration"),
    (8, "Constant mortality"),
    (9, "No change"),
    (10, "Momentum"),
    (11, "Instant replacement zero migration"),
    (12, "Median PI"),
    (13, "Upper 80 PI"),
    (14, "Lower 80 PI"),
    (15, "Upper 95 PI"),
    (16, "Lower 95 PI"),
]


def locations(count):
    """(code, name, type id, type name, parent, iso3) for a World > 6 regions > subregions > countries tree."""
    rows = [(900, "World", 1, "World", "", "")]
    regions = [(903 + index, f"Region {index + 1}") for index in range(6)]
    rows += [(code, name, 2, "Region", 900, "") for code, name in regions]
    subregions = [
        (1000 + index, f"Subregion {index + 1}", regions[index % 6][0]) for index in range(22)
    ]
    rows += [(code, name, 3, "Subregion", parent, "") for code, name, parent in subregions]
    for index in range(count - len(rows)):
        parent = subregions[index % len(subregions)][0]
        iso3 = "".join(
            chr(65 + (index // 676) % 26) + chr(65 + (index // 26) % 26) + chr(65 + index % 26)
        )
        rows.append(
            (
                2000 + index,
                f"Country or area number {index + 1} (synthetic)",
                4,
                "Country/Area",
                parent,
                iso3,
            )
        )
    return rows


def series(rng, start_level):
    growth = rng.uniform(0.001, 0.03)
    level, values = start_level, {}
    for year in range(1950, 2101):
        values[year] = level
        growth *= rng.uniform(0.97, 1.01)
        level *= 1 + growth
    return values


def write(path: Path, location_count: int, seed: int = 2024):
    rng = random.Random(seed)
    rows = 0
    with gzip.open(path, "wt", encoding="utf-8", newline="", compresslevel=6) as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        for sort_order, (code, name, type_id, type_name, parent, iso3) in enumerate(
            locations(location_count), 1
        ):
            base = series(rng, rng.uniform(50, 500_000))
            for var_id, variant in VARIANTS:
                years = (
                    range(1950, 2101)
                    if variant == "Medium"
                    else range(LAST_ESTIMATE_YEAR + 1, 2101)
                )
                spread = (var_id - 8) * 0.002
                for year in years:
                    total = base[year] * (1 + spread * max(0, year - LAST_ESTIMATE_YEAR))
                    male = total * 0.497
                    writer.writerow(
                        [
                            sort_order,
                            code,
                            "",
                            iso3,
                            iso3[:2],
                            code,
                            type_id,
                            type_name,
                            parent,
                            name,
                            var_id,
                            variant,
                            year,
                            f"{year}.5",
                            f"{male:.3f}",
                            f"{total - male:.3f}",
                            f"{total:.3f}",
                            f"{total / 1000:.3f}",
                        ]
                    )
                    rows += 1
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument(
        "--locations", type=int, default=586, help="586 locations give about 720,000 rows"
    )
    arguments = parser.parse_args()
    rows = write(arguments.path, arguments.locations)
    with gzip.open(arguments.path, "rb") as file:
        size = sum(len(block) for block in iter(lambda: file.read(1 << 20), b""))
    print(f"rows={rows} gz_bytes={arguments.path.stat().st_size} uncompressed_bytes={size}")


if __name__ == "__main__":
    main()
