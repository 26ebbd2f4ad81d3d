"""Region search that forgives: ISO3 codes people know, common names, and typos.

WPP2019 has no ISO3 column, so iso3_for() derives it from the UN M49 numeric code (pycountry's
ISO 3166 table uses the same numbers) when a file lacks it; ALIASES adds the names people type
that are in neither the UN's names nor pycountry's ("USA", "UK", "South Korea"). Misspellings
("Frnace") are matched by PostgreSQL's trigram similarity (pg_trgm, migration 0007) or, on
SQLite, by difflib over the names in memory, so both databases answer "Did you mean France?".
"""

import difflib

import pycountry
from django.db import connection

from . import rules

# What people type -> ISO3. Keys are case-folded; pycountry's common and official names are
# added by alias_table().
ALIASES = {
    "usa": "USA",
    "us": "USA",
    "u.s.": "USA",
    "u.s.a.": "USA",
    "america": "USA",
    "united states": "USA",
    "uk": "GBR",
    "u.k.": "GBR",
    "britain": "GBR",
    "great britain": "GBR",
    "england": "GBR",
    "united kingdom": "GBR",
    "russia": "RUS",
    "south korea": "KOR",
    "korea": "KOR",
    "north korea": "PRK",
    "iran": "IRN",
    "vietnam": "VNM",
    "viet nam": "VNM",
    "syria": "SYR",
    "bolivia": "BOL",
    "venezuela": "VEN",
    "tanzania": "TZA",
    "czechia": "CZE",
    "czech republic": "CZE",
    "laos": "LAO",
    "moldova": "MDA",
    "macedonia": "MKD",
    "north macedonia": "MKD",
    "ivory coast": "CIV",
    "cote d'ivoire": "CIV",
    "drc": "COD",
    "dr congo": "COD",
    "congo-kinshasa": "COD",
    "congo-brazzaville": "COG",
    "taiwan": "TWN",
    "palestine": "PSE",
    "turkey": "TUR",
    "turkiye": "TUR",
    "holland": "NLD",
    "burma": "MMR",
    "swaziland": "SWZ",
    "cape verde": "CPV",
    "east timor": "TLS",
    "micronesia": "FSM",
    "vatican": "VAT",
    "brunei": "BRN",
}
FUZZY_CUTOFF = 0.6
# "Frnace" and "France" share 3 of 11 trigrams (0.27): a lower bar than pg_trgm's 0.3.
TRIGRAM_THRESHOLD = 0.2


def iso3_for(code: int, kind: str) -> str:
    """The ISO 3166 alpha-3 code of a country by its UN M49 code; "" for regions and groups."""
    if kind not in ("", rules.COUNTRY_KIND) or not 0 < code < 1000:
        return ""
    country = pycountry.countries.get(numeric=f"{code:03d}")
    return country.alpha_3 if country else ""


def alias_table() -> dict[str, str]:
    """Every name or alias people use -> ISO3: pycountry's names and ALIASES (which win)."""
    table = {}
    for country in pycountry.countries:
        for attribute in ("name", "common_name", "official_name"):
            name = getattr(country, attribute, None)
            if name:
                table[name.casefold()] = country.alpha_3
    table.update(ALIASES)
    return table


_ALIASES: dict[str, str] | None = None


def iso3_for_alias(text: str) -> str | None:
    global _ALIASES
    if _ALIASES is None:
        _ALIASES = alias_table()
    return _ALIASES.get(text.strip().casefold())


def close_names(text: str, names: list[str], *, limit: int = 3) -> list[str]:
    """The names nearest to a misspelling (difflib's ratio, case-insensitive), best first."""
    folded = {}
    for name in names:
        folded.setdefault(name.casefold(), name)
    matches = difflib.get_close_matches(
        text.strip().casefold(), list(folded), n=limit, cutoff=FUZZY_CUTOFF
    )
    return [folded[match] for match in matches]


def regions_like(queryset, text: str, *, names: list[str], limit: int = 5) -> list:
    """Regions whose names resemble ``text``: trigram similarity on PostgreSQL (pg_trgm),
    difflib over ``names`` elsewhere."""
    text = text.strip()
    if not text:
        return []
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import TrigramSimilarity

        return list(
            queryset.annotate(similarity=TrigramSimilarity("name", text))
            .filter(similarity__gte=TRIGRAM_THRESHOLD)
            .order_by("-similarity", "sort_order")[:limit]
        )
    wanted = close_names(text, names, limit=limit)
    by_name = {region.name: region for region in queryset.filter(name__in=wanted)}
    return [by_name[name] for name in wanted if name in by_name]


def aliases_of(iso3: str) -> list[str]:
    """The hand-written aliases of a country (for the dropdown's search), "" codes have none."""
    if not iso3:
        return []
    return [alias for alias, code in ALIASES.items() if code == iso3]
