"""The world page (/world/), its CSV (/world.csv) and GET /api/world/ (services.world)."""

import csv
import io
import json
import math

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from forecasts import rules, services
from forecasts.active_data import active_data
from forecasts.models import Region
from forecasts.services import world

pytestmark = pytest.mark.django_db

LONG_HEADER = (
    "SortOrder,LocID,Notes,ISO3_code,ISO2_code,SDMX_code,LocTypeID,LocTypeName,ParentID,Location,"
    "VarID,Variant,Time,MidPeriod,PopMale,PopFemale,PopTotal,PopDensity"
)
# code, ISO3, kind, parent, name, thousands in 1950, yearly growth; Chile has an empty kind (a
# long file may leave it out), so it counts as a country by its ISO3 code.
LONG_LOCATIONS = [
    (900, "", "World", "", "World", 2_500_000, 0.015),
    (903, "", "Region", 900, "Africa", 230_000, 0.025),
    (562, "NER", "Country/Area", 903, "Niger", 2_500, 0.035),
    (504, "MAR", "Country/Area", 903, "Morocco", 9_000, 0.02),
    (908, "", "Region", 900, "Europe", 550_000, 0.004),
    (250, "FRA", "Country/Area", 908, "France", 42_000, 0.005),
    (152, "CHL", "", 900, "Chile", 6_000, 0.015),
]
LAST_ESTIMATE = 2021


@pytest.fixture
def un_file(tmp_path):
    return write_un_file(tmp_path)


def write_un_file(folder):
    """A small WPP long file with countries and the UN's Medium, Low and High variants (the UN's
    Medium grows 1% a year more slowly than the history after the estimates)."""
    lines = [LONG_HEADER]
    for order, (code, iso3, kind, parent, name, base, growth) in enumerate(LONG_LOCATIONS, 1):
        for variant, years, factor in [
            ("Medium", range(1950, 2101), 1.0),
            ("Low", range(LAST_ESTIMATE + 1, 2101), 0.9),
            ("High", range(LAST_ESTIMATE + 1, 2101), 1.1),
        ]:
            for year in years:
                value = base * (1 + growth) ** (year - 1950)
                if year > LAST_ESTIMATE:
                    value *= factor * 0.99 ** (year - LAST_ESTIMATE)
                lines.append(
                    f"{order},{code},,{iso3},,,,{kind},{parent},{name},2,{variant},{year},"
                    f"{year}.5,0,0,{value:.3f},1"
                )
    path = folder / "WPP2022_countries_test.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def un_dataset(db, un_file):
    return services.dataset_import(source=str(un_file))


@pytest.fixture
def api():
    return APIClient()


def world_api(api, **query):
    return api.get("/api/world/", query)


# --- The service ---


def test_wpp2019_ranking_lists_every_country_with_data(wpp2019_dataset):
    countries = Region.objects.with_data().filter(kind=rules.COUNTRY_KIND)
    ranking = services.world_ranking(data=active_data(), start=2020, end=2050)
    assert len(ranking.rows) == countries.count() > 200
    assert {row.code for row in ranking.rows} == set(countries.values_list("code", flat=True))
    assert ranking.failures == []
    assert not ranking.has_un
    assert all(row.change_percent is not None for row in ranking.rows)


def test_the_map_has_a_shape_for_every_wpp2019_country(wpp2019_dataset):
    """The vendored atlas (scripts/build-world-atlas.js) covers every country and area with data,
    the small islands and the areas Natural Earth puts inside another country included."""
    atlas = json.loads(
        (settings.BASE_DIR / "static/vendor/world-atlas/countries-m49.json").read_text()
    )
    shapes = {int(shape["id"]) for shape in atlas["objects"]["countries"]["geometries"]}
    countries = set(
        Region.objects.with_data().filter(kind=rules.COUNTRY_KIND).values_list("code", flat=True)
    )

    assert len(countries) == 235
    assert countries - shapes == set()
    # Parts moved out of the country Natural Earth draws them in, and areas joined into one.
    assert {254, 312, 474, 638, 175, 535, 772, 830} <= shapes
    assert not {831, 832} & shapes


def test_rows_are_recorded_inside_the_history_and_forecast_after(small_dataset):
    data = active_data()
    [france] = [row for row in world.world_rows(data=data, start=2000, end=2030) if row.code == 250]
    years, persons = data.history(250)
    assert france.start_population == persons[list(years).index(2000)]
    # The default model's forecast; the ranking skips the calibrated intervals, not the values.
    [result] = services.forecast_compute(
        data=data, regions=[data.regions[250]], start=2030, end=2030
    )
    assert result.interval == "calibrated"
    assert france.end_population == pytest.approx(result.points[0].value, rel=1e-12)
    assert france.change_percent == pytest.approx(
        (france.end_population - france.start_population) / france.start_population * 100
    )


def test_rows_are_computed_once_per_generation_and_years(small_dataset, monkeypatch):
    calls = []
    original = world.forecast_compute

    def counting(**kwargs):
        calls.append(kwargs["start"])
        return original(**kwargs)

    monkeypatch.setattr(world, "forecast_compute", counting)
    data = active_data()
    first = world.world_rows(data=data, start=2020, end=2050)
    assert world.world_rows(data=data, start=2020, end=2050) == first
    assert len(calls) == 1
    world.world_rows(data=data, start=2020, end=2040)
    assert len(calls) == 2


def test_un_medium_and_difference_and_the_iso3_fallback(un_dataset):
    data = active_data()
    ranking = services.world_ranking(data=data, start=2021, end=2050, sort="name")
    assert ranking.has_un
    assert [row.name for row in ranking.rows] == ["Chile", "France", "Morocco", "Niger"]
    for row in ranking.rows:
        medium = data.un_projections()[row.code].by_year[2050][0]
        assert row.un_medium == medium
        assert row.un_difference_percent == pytest.approx(
            (row.end_population - medium) / medium * 100
        )


def test_sorting_puts_rows_without_a_value_last(un_dataset):
    data = active_data()
    # No UN Medium inside the estimates: every row lacks it, the order stays the data's.
    ranking = services.world_ranking(data=data, start=2000, end=2010, sort="un")
    assert [row.un_medium for row in ranking.rows] == [None] * 4
    ascending = services.world_ranking(data=data, start=2021, end=2050, sort="change")
    changes = [row.change_percent for row in ascending.rows]
    assert changes == sorted(changes)
    descending = services.world_ranking(
        data=data, start=2021, end=2050, sort="change", descending=True
    )
    assert [row.code for row in descending.rows] == [row.code for row in ascending.rows][::-1]


def test_filter_by_parent_region_and_kind(un_dataset):
    data = active_data()
    africa = services.world_ranking(data=data, start=2021, end=2050, region=903, sort="name")
    assert [row.name for row in africa.rows] == ["Morocco", "Niger"]
    regions = services.world_ranking(data=data, start=2021, end=2050, kind="Region", sort="name")
    assert [row.name for row in regions.rows] == ["Africa", "Europe"]
    assert [region.code for region in world.world_parent_regions(data)] == [903, 908]
    assert world.world_kinds(data) == [rules.COUNTRY_KIND, "World", "Region"]


def test_wpp2019_continents_contain_their_countries_through_m49_subregions(wpp2019_dataset):
    data = active_data()
    offered = {region.code for region in world.world_parent_regions(data)}
    assert set(world.M49_CONTINENT_SUBREGIONS) <= offered
    counts = {
        continent: len(
            services.world_ranking(data=data, start=2020, end=2030, region=continent).rows
        )
        for continent in world.M49_CONTINENT_SUBREGIONS
    }
    countries = services.world_ranking(data=data, start=2020, end=2030).rows
    assert sum(counts.values()) == len(countries)  # every country on exactly one continent


# --- GET /api/world/ ---


def test_api_defaults_to_the_last_recorded_year_and_2050(api, wpp2019_dataset):
    response = world_api(api)
    assert response.status_code == 200
    document = response.json()
    assert document["params"] == {"from": 2020, "to": 2050, "kind": "Country/Area", "region": None}
    assert document["dataset"] == {"id": wpp2019_dataset.pk, "edition": "WPP2019"}
    assert document["method"] == rules.DEFAULT_METHOD
    assert document["unit"] == "persons"
    assert document["has_un_projections"] is False
    countries = Region.objects.with_data().filter(kind=rules.COUNTRY_KIND).count()
    assert len(document["regions"]) == countries
    niger = next(row for row in document["regions"] if row["code"] == 562)
    assert set(niger) == {
        "code",
        "name",
        "kind",
        "population_from",
        "population_to",
        "change_percent",
        "un_medium",
        "difference_percent",
    }
    assert niger["un_medium"] is None
    assert niger["difference_percent"] is None
    assert niger["change_percent"] > 50


def test_api_with_un_projections(api, un_dataset):
    document = world_api(api, **{"from": 2021, "to": 2060, "region": 903}).json()
    assert document["has_un_projections"] is True
    assert [row["name"] for row in document["regions"]] == ["Niger", "Morocco"]
    for row in document["regions"]:
        assert row["un_medium"] > 0
        assert math.isfinite(row["difference_percent"])


@pytest.mark.parametrize(
    "query, field, words",
    [
        ({"from": 2051, "to": 2050}, "from", "must not be after"),
        ({"from": 1949}, "from", f"between {rules.YEAR_MIN} and {rules.YEAR_MAX}"),
        ({"from": 2020, "to": rules.YEAR_MAX + 1}, "to", f"and {rules.YEAR_MAX}; got"),
        ({"from": "soon"}, "from", "valid integer"),
        ({"kind": ""}, "kind", "may not be blank"),
        ({"region": -1}, "region", "greater than or equal to 0"),
    ],
)
def test_api_bad_input_is_a_400_naming_the_field(api, small_dataset, query, field, words):
    response = world_api(api, **query)
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert words in " ".join(response.json()[field])


@pytest.mark.parametrize(
    "query, field, words",
    [
        ({"kind": "Planet"}, "kind", "not a kind"),
        ({"region": 250}, "region", "not a region that contains countries"),
    ],
)
def test_api_kind_or_region_the_data_lacks_is_a_404(api, small_dataset, query, field, words):
    response = world_api(api, **query)
    assert response.status_code == 404
    assert set(response.json()) == {"detail", field}
    assert words in response.json()[field][0]


def test_api_to_alone_before_the_last_recorded_year_starts_the_span_there(api, small_dataset):
    params = world_api(api, to=1990).json()["params"]
    assert (params["from"], params["to"]) == (1990, 1990)


def test_api_from_before_the_first_recorded_year_is_a_400(api, un_dataset, settings):
    # Every region of this file starts in 1950; move them so the data starts later.
    Region.objects.update(first_year=1960)
    response = world_api(api, **{"from": 1955, "to": 2000})
    assert response.status_code == 400
    assert response.json() == {
        "from": ["The start year must not be before the first recorded year (1960); got 1955."]
    }


def test_api_without_data_is_a_409(api, db):
    response = world_api(api)
    assert response.status_code == 409
    assert "No data is loaded" in response.json()["detail"]


def test_api_schema_documents_the_endpoint(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/world/"]["get"]
    assert {parameter["name"] for parameter in operation["parameters"]} == {
        "from",
        "to",
        "kind",
        "region",
    }
    assert set(operation["responses"]) == {"200", "400", "404", "409", "414", "429", "500", "503"}
    output = schema["components"]["schemas"]["WorldOutput"]
    assert {"regions", "params", "has_un_projections"} <= set(output["properties"])


# --- The page and its CSV ---


def test_page_without_javascript_is_a_ranking_table(client, wpp2019_dataset):
    response = client.get("/world/")
    assert response.status_code == 200
    html = response.content.decode()
    countries = Region.objects.with_data().filter(kind=rules.COUNTRY_KIND).count()
    assert html.count('<tr data-code="') == countries
    # The map's space is reserved from the first paint, and hidden by no-script.css without scripts.
    assert 'world-map-figure needs-script" id="world-map-figure"' in html
    assert "css/no-script." in html.split("<noscript>")[1].split("</noscript>")[0]
    assert '<th scope="col" data-sort="change" aria-sort="descending"' in html
    assert "<caption" in html
    assert "Forecast change in population from 2020 to 2050, in percent" in html
    assert "UN Medium" not in html.split('id="world-table"')[1]  # no UN columns without UN data
    assert 'href="/world/"' in html and 'aria-current="page">World</a>' in html
    assert "<script>" not in html  # CSP: scripts only from files


def test_page_rows_follow_the_sort_in_the_query(client, wpp2019_dataset):
    html = client.get("/world/", {"sort": "name", "dir": "asc"}).content.decode()
    names = [Region.objects.get(code=int(code)).name for code in _codes(html)]
    assert names == sorted(names, key=str.casefold)
    assert '<th scope="col" data-sort="name" aria-sort="ascending"' in html
    # The sorted column's link reverses the order; the other links keep the rest of the state.
    assert "sort=name&amp;dir=desc" in html
    assert "from=2020&amp;to=2050&amp;view=change&amp;kind=Country%2FArea&amp;sort=from" in html


def test_page_filters_by_region(client, wpp2019_dataset):
    html = client.get("/world/", {"region": 903, "sort": "name", "dir": "asc"}).content.decode()
    codes = _codes(html)
    africa = services.world_ranking(data=active_data(), start=2020, end=2050, region=903)
    assert sorted(codes) == sorted(row.code for row in africa.rows)
    assert 562 in codes and 504 in codes and 250 not in codes
    assert len(codes) == 58  # WPP2019 files Africa's countries under two SDG regions
    assert " in Africa:" in html


def test_page_bad_years_are_a_400_with_the_field_named(client, small_dataset):
    response = client.get("/world/", {"from": 2060, "to": 2050})
    assert response.status_code == 400
    html = response.content.decode()
    assert "<code>from</code>" in html
    assert "must not be after" in html
    assert 'id="world-table"' not in html


def test_page_without_data(client, db):
    response = client.get("/world/")
    assert response.status_code == 200
    assert "No data is loaded yet" in response.content.decode()


def test_disagreement_view_needs_un_projections(client, small_dataset):
    html = client.get("/world/", {"view": "disagreement"}).content.decode()
    assert 'id="no-un-message"' in html
    assert "has no UN projections" in html
    assert 'data-view="change"' in html
    assert 'data-view="disagreement"' not in html  # no link to a view that cannot be shown


def test_disagreement_view_with_un_projections(client, un_dataset):
    html = client.get("/world/", {"view": "disagreement"}).content.decode()
    assert 'id="no-un-message"' not in html
    assert 'data-view="disagreement" data-from="2021" data-to="2050"' in html
    assert '<th scope="col" data-sort="difference" aria-sort="descending"' in html
    assert "UN Medium 2050" in html
    assert "This model against the UN Medium projection in 2050" in html


def test_other_kinds_list_without_the_map(client, un_dataset):
    html = client.get("/world/", {"kind": "Region"}).content.decode()
    assert 'id="world-map-figure"' not in html
    assert "The map shows countries" in html
    assert sorted(_codes(html)) == [903, 908]


def test_csv_has_the_same_rows_in_the_same_order(client, un_dataset):
    query = {"from": 2021, "to": 2050, "sort": "change", "dir": "asc", "region": 903}
    response = client.get("/world.csv", query)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="world-2021-2050.csv"' in response["Content-Disposition"]
    records = list(csv.DictReader(io.StringIO(response.content.decode())))
    html = client.get("/world/", query).content.decode()
    assert [int(record["region_code"]) for record in records] == _codes(html)
    ranking = services.world_ranking(
        data=active_data(), start=2021, end=2050, region=903, sort="change"
    )
    for record, row in zip(records, ranking.rows, strict=True):
        assert record["region_name"] == row.name
        assert (record["from_year"], record["to_year"]) == ("2021", "2050")
        assert float(record["population_to"]) == pytest.approx(row.end_population, abs=1)
        assert float(record["change_percent"]) == pytest.approx(row.change_percent, abs=1e-4)
        assert float(record["un_medium"]) == pytest.approx(row.un_medium, abs=1)
        assert float(record["difference_percent"]) == pytest.approx(
            row.un_difference_percent, abs=1e-4
        )


def test_csv_bad_input_is_a_400(client, small_dataset):
    response = client.get("/world.csv", {"sort": "population"})
    assert response.status_code == 400
    assert "sort" in response.content.decode()


def _codes(html: str) -> list[int]:
    return [int(part.split('"', 1)[0]) for part in html.split('<tr data-code="')[1:]]
