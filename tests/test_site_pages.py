"""The HTML site's pages, through Django's test client."""

import csv
import io
import json

import pytest
from django.test import Client
from django.urls import clear_script_prefix, include, path, reverse, set_script_prefix
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from forecasts import presenters, rules, selectors, services
from forecasts.models import ForecastRun, Region
from forecasts.models.runs import run_path


def _boom(request):
    raise RuntimeError("secret internal detail")


# This module doubles as a URLconf (see test_server_error_page_has_no_traceback): the site's URLs
# plus one view that fails.
urlpatterns = [path("boom/", _boom), path("", include("popsite.urls"))]


def _run(regions=(900, 901), start=2030, end=2035, method="levels", lags=1):
    """A stored run; the original app's model unless told otherwise."""
    return services.forecast_run_create(
        regions=selectors.regions_for_forecast(identifiers=[str(code) for code in regions]),
        start=start,
        end=end,
        method=method,
        lags=lags,
    ).run


def _rounded(results, code, year):
    result = next(result for result in results if result.code == code)
    return presenters.persons_rounded(next(p for p in result.points if p.year == year).value)


# Home


def test_home_shows_the_dataset_the_form_and_a_search_box(client, small_dataset):
    response = client.get("/")

    assert response.status_code == 200
    assertContains(response, "WPP2019")
    assertContains(response, "1950–2020")
    assertContains(response, f">{small_dataset.region_count}<")
    assertContains(response, 'action="/regions/"')
    assertContains(response, 'name="q"')
    assertContains(response, '<select name="regions"')
    assertContains(response, '<option value="900" data-code="900">WORLD</option>', html=True)


def test_home_does_not_offer_heading_rows(client, small_dataset):
    response = client.get("/")

    assertNotContains(response, '<option value="1803">')


def test_home_form_starts_with_the_decade_after_the_estimates_and_the_recommended_model(
    client, small_dataset
):
    form = client.get("/").context["form"]

    assert form["start"].value() == 2021
    assert form["end"].value() == 2030
    assert form["method"].value() == rules.DEFAULT_METHOD
    assert form["lags"].value() == rules.DEFAULT_LAGS
    assert form["level"].value() == 0.95


def test_home_without_data_says_how_to_load_it(client, db):
    response = client.get("/")

    assert response.status_code == 200
    assertContains(response, "No data is loaded yet")
    assertContains(response, "python manage.py import_wpp PATH")
    assertContains(response, 'href="/admin/forecasts/dataset/refresh/"')
    assertNotContains(response, '<select name="regions"')


def test_home_query_string_prefills_the_form_without_running_it(client, small_dataset):
    response = client.get("/?regions=900&regions=901&from=2030&to=2035&lags=2&level=0.9")

    assert response.status_code == 200
    assertContains(
        response, '<option value="900" selected data-code="900">WORLD</option>', html=True
    )
    assertContains(
        response,
        '<option value="901" selected data-code="901">More developed regions</option>',
        html=True,
    )
    assertContains(response, 'name="from" value="2030"')
    assertContains(response, 'name="to" value="2035"')
    assertContains(response, 'name="lags" value="2"')
    assertContains(response, 'name="level" value="0.9"')
    assert not ForecastRun.objects.exists()


def test_home_query_string_with_only_a_region_keeps_the_default_years(client, small_dataset):
    response = client.get("/?regions=250")

    assertContains(
        response,
        '<option value="250" selected data-code="250" data-iso3="FRA">France</option>',
        html=True,
    )
    assertContains(response, 'name="from" value="2021"')
    assertNotContains(response, "invalid-feedback")


def test_home_query_string_with_a_bad_value_shows_the_problem_beside_the_field(
    client, small_dataset
):
    response = client.get("/?regions=900&from=2030&to=2020")

    assert response.status_code == 400
    assertContains(response, "must not be after the end year", status_code=400)
    assert "must not be after the end year" in str(response.context["form"].errors["end"])


def test_home_lists_the_latest_runs(client, small_dataset):
    run = _run()

    response = client.get("/")

    assertContains(response, f'href="/runs/{run.pk}/"')


# Run page


def _cell(value):
    """A number as the site's tables show it: readable words, the exact count in the title."""
    return (
        f'<data value="{value:.0f}" title="{presenters.persons_exact(value)} persons">'
        f"{presenters.persons_readable(value)}</data>"
    )


def test_run_page_shows_the_table_in_readable_numbers_exact_in_titles(client, small_dataset):
    run = _run()
    regions = selectors.regions_for_forecast(identifiers=["900", "901"])
    expected = services.forecast_compute(
        regions=regions, start=2030, end=2035, method="levels", lags=1
    )

    response = client.get(f"/runs/{run.pk}/")

    assert response.status_code == 200
    assertContains(response, "Population forecast: WORLD, More developed regions, 2030–2035")
    assert response.context["header"] == ["Year", "WORLD", "More developed regions"]
    assert [row[0] for row in response.context["rows"]] == [str(y) for y in range(2030, 2036)]
    for year in (2030, 2035):
        for code in (900, 901):
            result = next(result for result in expected if result.code == code)
            value = next(p for p in result.points if p.year == year).value
            assertContains(response, f"<td>{_cell(value)}</td>", html=True)
    assertContains(response, "billion</data>")


def test_run_page_shows_the_interval_bounds(client, small_dataset):
    run = _run()
    world_2030 = run.points.get(region_code=900, year=2030)

    response = client.get(f"/runs/{run.pk}/")

    assertContains(response, "95% prediction interval")
    assertContains(response, f"{_cell(world_2030.lower)} – {_cell(world_2030.upper)}")
    assert world_2030.lower < world_2030.value < world_2030.upper


def test_run_page_states_parameters_dataset_and_links(client, small_dataset):
    run = _run(lags=2)

    response = client.get(f"/runs/{run.pk}/")

    assertContains(
        response, '<dt class="col-5">Lags</dt><dd class="col-7 run-lags">2</dd>', html=True
    )
    assertContains(response, "WPP2019, imported")
    assertContains(response, f'href="/runs/{run.pk}.csv"')
    assertContains(response, f'href="/runs/{run.pk}.json"')
    assertContains(response, f"http://testserver/runs/{run.pk}/")
    assertContains(
        response,
        (
            'href="/?regions=900&amp;regions=901&amp;from=2030&amp;to=2035&amp;method=levels'
            '&amp;lags=2&amp;level=0.95"'
        ),
    )


def test_forecast_again_link_prefills_the_form_with_the_run(client, small_dataset):
    run = _run(regions=(250, 384), start=2025, end=2040, lags=3)
    again = client.get(f"/runs/{run.pk}/").context["again_url"]

    form = client.get(again).context["form"]

    assert form.is_valid()
    assert [region.code for region in form.cleaned_data["regions"]] == [250, 384]
    assert (form.cleaned_data["start"], form.cleaned_data["end"]) == (2025, 2040)
    assert form.cleaned_data["lags"] == 3


def test_run_page_chart_data_has_history_and_the_runs_points(client, small_dataset):
    run = _run()

    response = client.get(f"/runs/{run.pk}/")

    assertContains(response, '<script id="chart-data" type="application/json">')
    chart = response.context["chart"]
    world = chart["series"][0]
    assert world["name"] == "WORLD"
    assert world["history"][0] == [1950, 2536431000]
    assert world["history"][-1] == [2020, 7794799000]
    point = run.points.get(region_code=900, year=2035)
    assert world["forecast"][-1] == [2035, point.value]
    assert world["lower"][-1] == [2035, point.lower]
    assert world["upper"][-1] == [2035, point.upper]
    assert [series["name"] for series in chart["series"]] == ["WORLD", "More developed regions"]


def test_run_page_loads_scripts_only_from_this_site(client, small_dataset):
    run = _run()

    response = client.get(f"/runs/{run.pk}/")

    content = response.content.decode()
    assert "chart.umd" in content
    assert "//cdn" not in content
    for attribute in ('src="http', 'src="//', 'href="//'):
        assert attribute not in content


def test_run_page_marks_years_that_cannot_be_predicted(client, small_dataset):
    run = _run(regions=(900,), start=1950, end=1952, lags=1)

    response = client.get(f"/runs/{run.pk}/")

    assert response.context["rows"][0] == ["1950", ""]
    assertContains(response, "<td>—</td>")


def test_unknown_run_is_the_404_page(client, db):
    response = client.get("/runs/999/")

    assert response.status_code == 404
    assertContains(response, "Page not found", status_code=404)


# Downloads


def test_csv_download_has_the_runs_values(client, small_dataset):
    run = _run()

    response = client.get(f"/runs/{run.pk}.csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == f'attachment; filename="forecast-run-{run.pk}.csv"'
    records = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(records) == 12
    first = records[0]
    point = run.points.get(region_code=900, year=2030)
    assert (first["region_code"], first["region_name"], first["year"]) == ("900", "WORLD", "2030")
    assert float(first["value"]) == pytest.approx(point.value, rel=1e-12)
    assert float(first["lower"]) == pytest.approx(point.lower, rel=1e-12)


def test_json_download_has_the_runs_values_and_settings(client, small_dataset):
    run = _run()

    response = client.get(f"/runs/{run.pk}.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == f'attachment; filename="forecast-run-{run.pk}.json"'
    document = json.loads(response.content)
    assert document["params"] == {
        "regions": [900, 901],
        "from": 2030,
        "to": 2035,
        "method": "levels",
        "lags": 1,
        "level": 0.95,
        "interval": "model-based",
    }
    assert (document["id"], document["dataset"]["id"]) == (run.pk, run.dataset_id)
    assert [item["region"]["code"] for item in document["results"]] == [900, 901]
    point = run.points.get(region_code=901, year=2035)
    assert document["results"][1]["points"][-1]["value"] == point.value


def test_json_download_is_the_same_document_as_the_api_run(client, small_dataset):
    run = _run()

    download = json.loads(client.get(f"/runs/{run.pk}.json").content)
    api = client.get(f"/api/runs/{run.pk}/").json()

    assert download == api


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_download_of_an_unknown_run_is_404(client, db, suffix):
    assert client.get(f"/runs/999{suffix}").status_code == 404


# History


def test_history_lists_runs_newest_first(client, small_dataset):
    older = _run(regions=(250,))
    newer = _run(regions=(384,))

    response = client.get("/runs/")

    assert response.status_code == 200
    assert list(response.context["page_obj"]) == [newer, older]
    content = response.content.decode()
    assert content.index(f'href="/runs/{newer.pk}/"') < content.index(f'href="/runs/{older.pk}/"')
    assertContains(response, "France")
    assertContains(response, "2030–2035")


def test_history_is_paginated_by_25(client, small_dataset):
    runs = [_run(regions=(250,), start=2030, end=2030) for _ in range(27)]

    first = client.get("/runs/")
    second = client.get("/runs/?page=2")

    assert len(first.context["page_obj"]) == 25
    assertContains(first, "Page 1 of 2")
    assertContains(first, 'href="?page=2"')
    assert list(second.context["page_obj"]) == [runs[1], runs[0]]


def test_history_page_out_of_range_shows_the_last_page(client, small_dataset):
    _run()

    response = client.get("/runs/?page=99")

    assert response.status_code == 200
    assert response.context["page_obj"].number == 1


def test_history_filters_by_region(client, small_dataset):
    france = _run(regions=(250, 900))
    _run(regions=(384,))

    response = client.get("/runs/?region=250")

    assert list(response.context["page_obj"]) == [france]
    assertContains(response, "Runs that include <strong>France</strong>: 1.")


def test_history_pages_keep_the_region_filter(client, small_dataset):
    for _ in range(26):
        _run(regions=(250,), start=2030, end=2030)

    response = client.get("/runs/?region=250")

    assertContains(response, 'href="?region=250&amp;page=2"')


def test_history_filter_that_is_not_a_code_is_a_400_with_a_message(client, small_dataset):
    response = client.get("/runs/?region=France")

    assert response.status_code == 400
    assertContains(response, "Choose a region from the list", status_code=400)


def test_history_without_runs_says_so(client, small_dataset):
    response = client.get("/runs/")

    assertContains(response, "No forecasts yet")


# Regions


def test_regions_page_shows_the_hierarchy_from_world_down(client, small_dataset):
    response = client.get("/regions/")

    assert response.status_code == 200
    tree = [(region.code, depth) for region, depth in response.context["tree"]]
    assert tree[0] == (900, 0)
    assert (1803, 1) in tree
    assert tree.index((1803, 1)) < tree.index((901, 2))
    assertContains(response, 'class="depth-2')
    assertContains(response, "Development Group")
    assertContains(response, 'href="/regions/250/"')


def test_region_tree_lists_every_region_once(small_dataset):
    tree = selectors.region_tree()

    assert sorted(region.code for region, _ in tree) == sorted(
        Region.objects.values_list("code", flat=True)
    )


def test_region_tree_keeps_regions_whose_parents_form_a_cycle(small_dataset):
    Region.objects.filter(code=901).update(parent=902)
    Region.objects.filter(code=902).update(parent=901)

    codes = [region.code for region, _ in selectors.region_tree()]

    assert sorted(codes) == sorted(Region.objects.values_list("code", flat=True))


def test_region_tree_puts_children_after_their_parent(wpp2019_dataset):
    tree = selectors.region_tree()
    position = {region.code: index for index, (region, _) in enumerate(tree)}
    depth = {region.code: depth for region, depth in tree}

    for region, _ in tree:
        if region.parent_id is not None:
            assert position[region.parent_id] < position[region.code]
            assert depth[region.code] == depth[region.parent_id] + 1
    assert {"Income Group", "SDG region", "Development Group"} <= {r.kind for r, _ in tree}


@pytest.mark.parametrize(
    ("query", "expected"),
    [("franc", [250]), ("250", [250]), ("civ", [384]), ("CIV", [384]), ("developed", [901, 902])],
)
def test_regions_search_by_name_code_or_iso3(client, small_dataset, query, expected):
    Region.objects.filter(code=384).update(iso3="CIV")

    response = client.get("/regions/", {"q": query})

    assert response.status_code == 200
    assert [region.code for region in response.context["matches"]] == expected
    assertContains(response, f"Regions matching “{query}”")


def test_regions_search_without_match_says_so(client, small_dataset):
    response = client.get("/regions/?q=Atlantis")

    assertContains(response, "No region matches “Atlantis”")


def test_regions_search_too_long_is_a_400(client, small_dataset):
    response = client.get("/regions/", {"q": "x" * 101})

    assert response.status_code == 400
    assertContains(response, "at most 100 characters", status_code=400)


def test_region_page_shows_history_parent_children_and_a_forecast_button(client, small_dataset):
    response = client.get("/regions/902/")

    assert response.status_code == 200
    assertContains(response, '<h1 class="h2 mb-1">Less developed regions</h1>', html=True)
    assertContains(response, 'href="/regions/1803/"')
    assertContains(
        response, f'<tr><th scope="row">1950</th><td>{_cell(1721612000)}</td></tr>', html=True
    )
    assertContains(response, 'href="/?regions=902"')
    assertContains(response, '<script id="chart-data" type="application/json">')
    history = response.context["chart"]["series"][0]["history"]
    assert history[0][0] == 1950 and history[-1][0] == 2020


def test_region_page_of_a_heading_lists_its_children_and_offers_no_forecast(client, small_dataset):
    response = client.get("/regions/1803/")

    assert response.status_code == 200
    assertContains(response, "is a heading")
    assertContains(response, 'href="/regions/901/"')
    assertContains(response, 'href="/regions/902/"')
    assertNotContains(response, "Forecast this region")


def test_region_page_lists_the_latest_runs_that_include_it(client, small_dataset):
    with_france = _run(regions=(900, 250))
    without = _run(regions=(384,))

    response = client.get("/regions/250/")

    assert list(response.context["latest_runs"]) == [with_france]
    assertContains(response, f'href="/runs/{with_france.pk}/"')
    assertNotContains(response, f'href="/runs/{without.pk}/"')
    assertContains(response, 'href="/runs/?region=250"')


def test_region_page_lists_its_ten_newest_runs_newest_first(client, small_dataset):
    runs = [_run(regions=(250,) if end % 2 else (900, 250), end=end) for end in range(2031, 2043)]
    _run(regions=(384,), end=2050)

    response = client.get("/regions/250/")

    assert list(response.context["latest_runs"]) == runs[::-1][:10]


def test_unknown_region_is_the_404_page_in_the_site_style(client, small_dataset):
    response = client.get("/regions/12345/")

    assert response.status_code == 404
    assertContains(response, "Page not found", status_code=404)
    assertContains(response, 'class="navbar', status_code=404)
    assertContains(response, 'href="/regions/"', status_code=404)


def test_unknown_address_is_the_404_page(client, db):
    response = client.get("/no/such/page/")

    assert response.status_code == 404
    assertContains(response, "Page not found", status_code=404)


@pytest.mark.urls(__name__)
def test_server_error_page_has_no_traceback(db):
    client = Client(raise_request_exception=False)

    response = client.get("/boom/")

    assert response.status_code == 500
    assertContains(response, "Something went wrong on our side", status_code=500)
    assertContains(response, 'class="navbar', status_code=500)
    assertNotContains(response, "secret internal detail", status_code=500)
    assertNotContains(response, "Traceback", status_code=500)


def test_pages_have_a_viewport_and_a_skip_link(client, small_dataset):
    for address in ("/", "/runs/", "/regions/", "/regions/900/"):
        response = client.get(address)
        assertContains(
            response, '<meta name="viewport" content="width=device-width, initial-scale=1">'
        )
        assertContains(response, 'href="#main"')


def test_redirect_after_post_lands_on_the_run_page(client, small_dataset):
    response = client.post(
        "/", {"regions": ["900"], "from": "2030", "to": "2031", "lags": "1", "level": "0.95"}
    )

    run = ForecastRun.objects.get()
    assertRedirects(response, f"/runs/{run.pk}/")


@pytest.mark.parametrize(
    "address",
    [
        "/regions/99999999999999999999/",
        "/runs/99999999999999999999/",
        "/runs/99999999999999999999.csv",
    ],
)
def test_huge_numbers_in_addresses_are_404_not_500(client, small_dataset, address):
    assert client.get(address).status_code == 404


def test_history_filter_with_a_huge_code_finds_nothing(client, small_dataset):
    _run()

    response = client.get("/runs/?region=99999999999999999999")

    assert response.status_code == 200
    assert list(response.context["page_obj"]) == []


def test_query_string_with_huge_numbers_shows_errors_not_500(client, small_dataset):
    response = client.get("/?regions=99999999999999999999&from=99999999999999999999&lags=1e400")

    assert response.status_code == 400
    form = response.context["form"]
    assert "Unknown region(s)" in str(form.errors["regions"])
    assert "between 1950 and 2100" in str(form.errors["start"])
    assert "lags" in form.errors


@pytest.mark.parametrize("pk", [1, 7, 42, 1234567])
def test_run_path_is_what_reverse_gives_under_any_script_prefix(pk):
    """The run page's path is built from one reversed path (forecasts.models.runs.run_path); it
    must stay what reverse() gives, also when the site is served under a script prefix."""
    assert run_path(pk) == reverse("forecasts:run_detail", args=[pk]) == f"/runs/{pk}/"
    set_script_prefix("/forecasts/")
    try:
        assert run_path(pk) == reverse("forecasts:run_detail", args=[pk])
        assert run_path(pk) == f"/forecasts/runs/{pk}/"
    finally:
        clear_script_prefix()
