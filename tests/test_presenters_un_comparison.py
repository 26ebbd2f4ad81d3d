"""The UN's own projection beside the AutoReg forecast, when the dataset has projection variants."""

import csv
import io
import re

import pytest
from pytest_django.asserts import assertContains, assertNotContains
from rest_framework.test import APIClient

from forecasts import active_data as active_data_module
from forecasts import presenters, selectors, services
from forecasts.active_data import load_un_projections
from forecasts.models import Region, YearlyPopulation

pytestmark = pytest.mark.django_db


@pytest.fixture
def long_dataset(db, small_long_file):
    """fixtures/wpp2022_small.csv imported: regions 1508, 1509; Medium/Low/High; estimates to 2021."""
    return services.dataset_import(source=str(small_long_file))


def _un(code, variant, year):
    return YearlyPopulation.objects.get(region_id=code, variant=variant, year=year).persons


def test_forecast_carries_the_un_medium_and_low_high_band(long_dataset):
    region = Region.objects.get(code=1509)

    [result] = services.forecast_compute(regions=[region], start=2030, end=2032)

    assert result.un.band == "UN Low–High variants"
    row = presenters.un_rows(result)[0]
    assert row["year"] == 2030
    assert row["medium"] == _un(1509, "Medium", 2030)
    assert (row["lower"], row["upper"]) == (_un(1509, "Low", 2030), _un(1509, "High", 2030))
    expected = (result.points[0].value - row["medium"]) / row["medium"] * 100
    assert row["difference_percent"] == pytest.approx(expected)
    assert [row["year"] for row in presenters.un_rows(result)] == [2030, 2031, 2032]


def test_years_of_the_estimates_have_no_un_projection(long_dataset):
    region = Region.objects.get(code=1509)

    [result] = services.forecast_compute(regions=[region], start=2019, end=2023)

    assert [row["year"] for row in presenters.un_rows(result)] == [2022, 2023]


def test_the_un_95_percent_interval_is_preferred_to_low_high(long_dataset):
    YearlyPopulation.objects.bulk_create(
        [
            YearlyPopulation(region_id=1509, variant="Lower 95 PI", year=2030, persons=1),
            YearlyPopulation(region_id=1509, variant="Upper 95 PI", year=2030, persons=2),
        ]
    )
    long_dataset.variants = [*long_dataset.variants, "Lower 95 PI", "Upper 95 PI"]
    long_dataset.save()

    projection = load_un_projections(long_dataset)[1509].between(2030, 2030)

    assert projection.band == "UN 95% prediction interval"
    assert projection.by_year[2030] == (_un(1509, "Medium", 2030), 1, 2)


def test_a_dataset_without_projections_shows_none(small_dataset, client):
    regions = selectors.regions_for_forecast(identifiers=["900"])
    run = services.forecast_run_create(regions=regions, start=2030, end=2031).run

    assert services.forecast_run_results(run)[0].un is None
    assertNotContains(client.get(run.get_absolute_url()), "UN Medium")
    data = APIClient().get("/api/forecast/", {"regions": "900", "from": 2030, "to": 2031}).json()
    assert data["results"][0]["un_projection"] is None


def test_run_page_shows_the_un_projection_and_difference(long_dataset, client):
    regions = selectors.regions_for_forecast(identifiers=["1509"])
    run = services.forecast_run_create(regions=regions, start=2030, end=2031).run

    response = client.get(run.get_absolute_url())

    assertContains(response, "UN Medium")
    assertContains(response, "UN Low–High variants")
    row = presenters.un_rows(response.context["results"][0])[0]
    assertContains(response, f"{row['difference_percent']:.2f}%")


def _outlook_table(response) -> list[tuple[int, list[str]]]:
    """The region page's outlook table: each row's year and its cells' text ("—" or the
    exact value of a <data> cell)."""
    table = re.search(r'<table[^>]*id="outlook-table".*?</table>', response.content.decode(), re.S)
    rows = re.findall(r'<tr><th scope="row">(\d+)</th>(.*?)</tr>', table.group(0))
    return [
        (int(year), re.findall(r'<data value="([^"]+)"|<td>(—)</td>', cells))
        for year, cells in rows
    ]


def test_region_page_shows_the_outlook_beside_the_un_projection(long_dataset, client):
    response = client.get("/regions/1509/")

    rows = _outlook_table(response)
    assert [year for year, _ in rows] == list(range(2022, 2032))
    forecast, lower, upper, medium = (value for value, _ in rows[0][1][:4])
    assert float(medium) == _un(1509, "Medium", 2022)
    assert float(lower) < float(forecast) < float(upper)
    assertContains(response, "UN Low–High variants")
    assertContains(response, "calibrated")


def test_region_page_of_a_dataset_without_projections_says_so(small_dataset, client):
    response = client.get("/regions/900/")

    assertContains(response, "this dataset has no UN projection")
    assertNotContains(response, "UN Medium")
    assert len(_outlook_table(response)[0][1]) == 3  # forecast, lower, upper: no UN cells


def test_api_forecast_and_runs_carry_the_un_projection(long_dataset):
    api = APIClient()
    forecast = api.get("/api/forecast/", {"regions": "1509", "from": 2030, "to": 2031}).json()
    created = api.post(
        "/api/runs/", {"regions": ["1509"], "from": 2030, "to": 2031}, format="json"
    ).json()

    for data in (forecast, created):
        projection = data["results"][0]["un_projection"]
        assert projection["band"] == "UN Low–High variants"
        assert projection["points"][0]["medium"] == _un(1509, "Medium", 2030)
        assert projection["points"][0]["difference_percent"] is not None


def test_forecast_leaving_the_un_band_is_flagged_on_the_page_in_the_api_and_the_csv(
    long_dataset, client
):
    YearlyPopulation.objects.filter(region_id=1509, variant__in=["Low", "High"]).update(persons=1)
    active_data_module.forget()  # rows changed by hand, not by an import
    regions = selectors.regions_for_forecast(identifiers=["1509"])
    run = services.forecast_run_create(regions=regions, start=2030, end=2031).run

    [result] = services.forecast_run_results(run)
    assert [row["outside_un_band"] for row in presenters.un_rows(result)] == [True, True]
    assertContains(client.get(run.get_absolute_url()), "un-outside")
    api = client.get(f"/api/runs/{run.pk}/").json()
    assert api["results"][0]["un_projection"]["points"][0]["outside_un_band"] is True
    import csv
    import io

    csv_text = client.get(f"/runs/{run.pk}.csv").content.decode()
    first = next(csv.DictReader(io.StringIO(csv_text, newline="")))
    assert first["outside_un_band"] == "True"


def test_a_region_whose_data_stop_early_says_so(wpp2022_excerpt, db, client):
    services.dataset_import(source=str(wpp2022_excerpt))
    regions = selectors.regions_for_forecast(identifiers=["1820"])  # WHO Regions end in 1996
    run = services.forecast_run_create(regions=regions, start=2030, end=2031).run

    [result] = services.forecast_run_results(run)
    assert result.last_recorded_year == 1996
    assert "stop in 1996" in result.history_note
    assertContains(client.get(run.get_absolute_url()), "stop in 1996")
    api = client.get(f"/api/runs/{run.pk}/").json()
    assert api["results"][0]["last_recorded_year"] == 1996
    assert "stop in 1996" in api["results"][0]["history_note"]
    rows = csv.DictReader(io.StringIO(client.get(f"/runs/{run.pk}.csv").content.decode()))
    assert {row["last_recorded_year"] for row in rows} == {"1996"}


@pytest.mark.parametrize("name", ["=HYPERLINK(1)", "+1", "-1+2", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(small_dataset, client, name):
    Region.objects.filter(code=900).update(name=name)
    active_data_module.forget()  # changed by hand, not by an import
    regions = selectors.regions_for_forecast(identifiers=["900"])
    run = services.forecast_run_create(regions=regions, start=2030, end=2030).run

    import csv
    import io

    text = client.get(f"/runs/{run.pk}.csv").content.decode()
    [row] = list(csv.DictReader(io.StringIO(text, newline="")))
    assert row["region_name"] == "'" + name
    assert float(row["value"]) > 0
