"""Site v2: charts people share (joined lines, server SVG, embed, previews), numbers people
read, search that forgives, limits that are said aloud."""

import io
from hashlib import sha256

import pytest
from pytest_django.asserts import assertContains, assertNotContains

from forecasts import charts, presenters, selectors, services


def _run(regions=("900", "901"), start=2030, end=2035, **settings):
    return services.forecast_run_create(
        regions=selectors.regions_for_forecast(identifiers=list(regions)),
        start=start,
        end=end,
        **settings,
    ).run


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (8_583_606_109, "8.58 billion"),
        (46_412_345, "46.4 million"),
        (812_345, "812 thousand"),
        (801, "801"),
        (None, ""),
        (float("inf"), ""),
    ],
)
def test_persons_readable(value, text):
    assert presenters.persons_readable(value) == text


def test_chart_joins_history_and_a_later_forecast_and_names_the_gap(client, small_dataset):
    run = _run(start=2030, end=2035)

    chart = client.get(f"/runs/{run.pk}/").context["chart"]

    world = chart["series"][0]
    assert world["bridge"][0] == world["history"][-1] == [2020, 7794799000]
    assert world["bridge"][1] == world["forecast"][0]
    assert world["gap"] == [2021, 2029]
    assert "2021–2029 were not forecast" in presenters.chart_gaps(chart["series"])
    assert chart["title"].startswith("Population of WORLD and More developed regions")
    assert len(chart["palette"]) == 20 and len(set(chart["palette"])) == 20


def test_chart_band_opens_from_the_last_record_when_the_forecast_follows_it(small_dataset):
    [region] = selectors.regions_for_forecast(identifiers=["250"])
    [result] = services.forecast_compute(regions=[region], start=2021, end=2025)
    from forecasts.active_data import active_data

    series = presenters.chart_series(result, active_data().history(250))
    assert series["gap"] is None
    assert series["lower"][0] == series["upper"][0] == series["history"][-1]


def test_run_page_without_javascript_has_a_server_drawn_chart(client, small_dataset):
    run = _run()

    response = client.get(f"/runs/{run.pk}/")

    content = response.content.decode()
    assert '<div class="chart-svg-box" id="chart-svg"><svg viewBox=' in content
    assert "<polyline" in content and "<polygon" in content
    assert "<figure" in content and 'id="chart-figure" hidden' not in content


def test_run_svg_download_and_log_scale(client, small_dataset):
    run = _run()

    linear = client.get(f"/runs/{run.pk}.svg")
    log = client.get(f"/runs/{run.pk}.svg?scale=log&download=1")

    assert linear["Content-Type"].startswith("image/svg+xml")
    assert linear.content.startswith(b"<?xml")
    assert b'xmlns="http://www.w3.org/2000/svg"' in linear.content
    assert log["Content-Disposition"] == f'attachment; filename="forecast-run-{run.pk}.svg"'
    assert linear.content != log.content
    # The log axis has more than three ticks.
    assert log.content.count(b'text-anchor="end"') >= 4


def test_log_ticks_are_readable():
    assert charts.nice_log_ticks(800, 10e9)[:3] == [1000, 10_000, 100_000]
    assert charts.nice_log_ticks(1e9, 9e9) == [1e9, 1.5e9, 2e9, 3e9, 5e9, 7e9]
    assert charts.nice_linear_ticks(0, 9.3e9) == [0, 2e9, 4e9, 6e9, 8e9, 1e10]


def test_scale_in_the_url_reaches_the_page(client, small_dataset):
    run = _run()

    response = client.get(f"/runs/{run.pk}/?scale=log")

    assert response.context["chart"]["scale"] == "log"
    assertContains(response, 'id="log-scale" aria-controls="population-chart" checked')


def test_embed_page_may_be_framed_the_rest_may_not(client, small_dataset):
    run = _run()

    embed = client.get(f"/runs/{run.pk}/embed/")
    page = client.get(f"/runs/{run.pk}/")

    assert embed.status_code == 200
    assert "X-Frame-Options" not in embed.headers
    assert "frame-ancestors *" in embed["Content-Security-Policy"]
    assert page["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    assertContains(embed, 'id="population-chart"')


def test_run_page_has_link_preview_tags_and_a_description(client, small_dataset):
    run = _run()

    response = client.get(f"/runs/{run.pk}/")

    assertContains(response, '<meta property="og:title" content="Population of WORLD')
    # Link previews need a raster image: social sites do not show SVG.
    assertContains(
        response, f'<meta property="og:image" content="http://testserver/runs/{run.pk}.png">'
    )
    assertContains(response, '<meta property="og:image:type" content="image/png">')
    assertContains(response, '<meta name="twitter:card" content="summary_large_image">')
    assertContains(response, '<meta name="description" content="WORLD: ')
    assertNotContains(response, 'src="http')


def _png_size(content: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(content)) as image:
        image.verify()
        return image.size


def test_run_png_is_the_chart_as_a_16_by_9_image(client, small_dataset):
    run = _run()

    linear = client.get(f"/runs/{run.pk}.png")
    log = client.get(f"/runs/{run.pk}.png?scale=log&download=1")

    assert linear["Content-Type"] == "image/png"
    assert _png_size(linear.content) == (1600, 900)
    assert log["Content-Disposition"] == f'attachment; filename="forecast-run-{run.pk}.png"'
    assert linear.content != log.content


def test_the_same_png_is_drawn_once(client, small_dataset, monkeypatch):
    run = _run()
    drawn = []
    real_png = charts.png
    monkeypatch.setattr(charts, "png", lambda chart: drawn.append(1) or real_png(chart))

    first = client.get(f"/runs/{run.pk}.png")
    again = client.get(f"/runs/{run.pk}.png")
    log = client.get(f"/runs/{run.pk}.png?scale=log")

    assert first.content == again.content != log.content
    assert len(drawn) == 2  # the linear chart once, the log chart once


def test_png_draws_accented_names_with_a_real_font():
    """Pillow's built-in font has no accents: "Réunion" would come out as boxes."""
    chart = {
        "title": "Réunion – Côte d’Ivoire",
        "series": [{"name": "Réunion", "history": [[2000, 700_000], [2020, 890_000]]}],
    }
    from PIL import ImageFont

    font = ImageFont.truetype(str(charts.FONTS / "DejaVuSans.ttf"), 24)
    missing = font.getmask("\uffff")
    assert all(bytes(font.getmask(letter)) != bytes(missing) for letter in "éô’–")
    assert _png_size(charts.png(chart)) == (1600, 900)


def test_region_page_shares_its_chart_like_a_run(client, small_dataset):
    page = client.get("/regions/250/")
    svg = client.get("/regions/250.svg?download=1")
    png = client.get("/regions/250.png")
    embed = client.get("/regions/250/embed/")

    assertContains(page, '<meta property="og:image" content="http://testserver/regions/250.png">')
    assertContains(page, 'id="download-svg" data-scale-link href="/regions/250.svg?download=1"')
    assertContains(page, 'id="copy-link" data-url="http://testserver/regions/250/"')
    assertContains(page, "&lt;iframe src=&quot;http://testserver/regions/250/embed/&quot;")
    assert svg["Content-Disposition"] == 'attachment; filename="population-250.svg"'
    assert b"France" in svg.content
    assert _png_size(png.content) == (1600, 900)
    assert embed.status_code == 200 and "X-Frame-Options" not in embed.headers
    assert "frame-ancestors *" in embed["Content-Security-Policy"]
    assertContains(embed, '<h1 class="visually-hidden">Population of France')


@pytest.mark.parametrize(
    "path", ["/regions/999999.png", "/regions/999999.svg", "/regions/999999/embed/"]
)
def test_a_region_without_data_has_no_chart_to_share(client, small_dataset, path):
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    "path", ["/", "/regions/", "/regions/250/", "/runs/", "/accuracy/", "/world/"]
)
def test_every_page_has_a_meta_description(client, small_dataset, path):
    assertContains(client.get(path), '<meta name="description" content="')


# Search that forgives


def test_import_derives_iso3_from_the_m49_code(small_dataset):
    from forecasts.models import Region

    assert Region.objects.get(code=250).iso3 == "FRA"
    assert Region.objects.get(code=336).iso3 == "VAT"
    assert Region.objects.get(code=900).iso3 == ""  # regions and groups have none


@pytest.mark.parametrize("query", ["FRA", "fra", "250", "France", "franc"])
def test_region_search_finds_france(client, small_dataset, query):
    response = client.get("/regions/", {"q": query})

    assert [region.code for region in response.context["matches"]] == [250]


def test_region_search_knows_common_names(client, small_dataset):
    response = client.get("/regions/", {"q": "Vatican"})

    assert [region.code for region in response.context["matches"]] == [336]


def test_region_search_suggests_the_nearest_name_for_a_typo(client, small_dataset):
    response = client.get("/regions/", {"q": "Frnace"})

    assert response.context["matches"] == []
    assert [region.code for region in response.context["suggestions"]] == [250]
    assertContains(response, 'Did you mean <a href="/regions/250/">France</a>')


def test_forecast_form_says_did_you_mean(client, small_dataset):
    response = client.get("/", {"regions": "Frnace"})

    assertContains(
        response, "Unknown region(s): &#x27;Frnace&#x27; (did you mean France?).", status_code=400
    )


def test_forecast_form_accepts_an_alias_and_an_iso3_code(small_dataset):
    regions = selectors.regions_for_forecast(identifiers=["fra", "Vatican"])

    assert [region.code for region in regions] == [250, 336]


def test_dropdown_options_carry_codes_and_repeated_names_their_kind(client, small_dataset):
    from types import SimpleNamespace

    labels = presenters.region_labels(
        [
            SimpleNamespace(code=908, name="Europe", kind="Region"),
            SimpleNamespace(code=917, name="EUROPE", kind="SDG subregion"),
            SimpleNamespace(code=250, name="France", kind="Country/Area"),
        ]
    )
    assert labels == {908: "Europe (Region)", 917: "EUROPE (SDG subregion)", 250: "France"}

    response = client.get("/")
    assertContains(response, '<option value="250" data-code="250" data-iso3="FRA">France</option>')


def test_a_link_with_too_many_regions_says_the_limit(client, small_dataset):
    response = client.get("/", {"regions": ["900"] * 21})

    assertContains(response, "Choose at most 20 regions; 21 were given.", status_code=400)


# Sharing: the same settings on the same data open the same run


def test_pressing_forecast_twice_reuses_the_stored_run(client, small_dataset):
    from forecasts.models import ForecastRun

    form = {
        "regions": ["900", "250"],
        "from": "2030",
        "to": "2035",
        "method": "levels",
        "lags": "1",
        "level": "0.95",
    }

    first = client.post("/", form)
    second = client.post("/", form)
    other_order = client.post("/", {**form, "regions": ["250", "900"]})

    assert first["Location"] == second["Location"]
    assert other_order["Location"] != first["Location"]
    assert ForecastRun.objects.count() == 2


def test_a_heading_without_data_previews_as_a_summary_without_an_image(client, wpp2019_dataset):
    """WPP2019's headings (e.g. 1803, UN development groups) have no series, so no chart image."""
    response = client.get("/regions/1803/")

    assert response.status_code == 200
    assertContains(response, '<meta name="twitter:card" content="summary">')
    assertNotContains(response, 'property="og:image"')
    assertContains(response, '<meta property="og:url" content="http://testserver/regions/1803/">')
    for path in ("/regions/1803.png", "/regions/1803.svg", "/regions/1803/embed/"):
        assert client.get(path).status_code == 404, path


def test_a_stored_run_is_found_only_by_exactly_its_settings(small_dataset):
    """forecast_run_find matches on the indexed settings key: every setting (and the regions'
    order) makes a different question, "auto" lags included; the newest of equals wins."""
    from forecasts import rules, selectors, services

    regions = selectors.regions_for_forecast(identifiers=["900", "250"])
    settings = dict(regions=regions, start=2030, end=2035, method="damped", lags=3, level=0.95)
    first = services.forecast_run_create(**settings).run
    newest = services.forecast_run_create(**settings).run
    assert services.forecast_run_find(**settings) == newest.pk != first.pk
    assert newest.settings_key == sha256(b"900,250|2030|2035|damped|3|0.95").hexdigest()
    others = [
        {"regions": regions[::-1]},
        {"regions": regions[:1]},
        {"start": 2031},
        {"end": 2036},
        {"method": "levels"},
        {"lags": 2},
        {"lags": rules.LAGS_AUTO},
        {"level": 0.9},
    ]
    for change in others:
        assert services.forecast_run_find(**{**settings, **change}) is None, change
    auto = services.forecast_run_create(**{**settings, "lags": rules.LAGS_AUTO}).run
    assert auto.settings_key == sha256(b"900,250|2030|2035|damped|auto|0.95").hexdigest()
    assert services.forecast_run_find(**{**settings, "lags": rules.LAGS_AUTO}) == auto.pk


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_stored_runs_their_settings_key():
    """Runs stored before the key existed are found after the upgrade, as new ones are."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate([("forecasts", "0009_run_settings_index")])
    old_apps = executor.loader.project_state([("forecasts", "0009_run_settings_index")]).apps
    Dataset = old_apps.get_model("forecasts", "Dataset")
    OldRun = old_apps.get_model("forecasts", "ForecastRun")
    dataset = Dataset.objects.create(
        source="old.csv", checksum="0" * 64, status="succeeded", is_active=True
    )
    OldRun.objects.create(
        dataset=dataset,
        regions=[{"code": 900, "name": "World"}, {"code": 250, "name": "France"}],
        start_year=2030,
        end_year=2035,
        method="levels",
        lags=None,
        level=0.8,
        duration_ms=1.0,
    )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    from forecasts.models import ForecastRun

    [run] = ForecastRun.objects.all()
    assert run.settings_key == sha256(b"900,250|2030|2035|levels|auto|0.8").hexdigest()


def test_a_run_of_every_region_has_a_settings_key_that_fits(small_dataset):
    """`forecast --all --save` stores runs of hundreds of regions (586 in WPP2024): the key is a
    fixed-size digest, not the list of codes (too long for the column and an index entry)."""
    from forecasts.models import ForecastRun

    regions = [{"code": 1000 + i, "name": f"Region {i}"} for i in range(600)]
    run = ForecastRun.objects.create(
        dataset=small_dataset, regions=regions, start_year=2030, end_year=2031, duration_ms=1.0
    )
    run.refresh_from_db()
    assert len(run.settings_key) == 64


def test_the_form_looks_for_an_identical_run_and_stores_a_new_one_in_one_statement(
    client, small_dataset
):
    """On PostgreSQL the lookup of an identical run and the charge to the client's run budget go
    into the statement that stores a new one (each round trip was a tenth to a fifth of a form
    POST): one statement looks, charges and stores; one finds the run and charges nothing."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from forecasts.models import ForecastRun, RunBudgetUse

    if connection.vendor != "postgresql":
        pytest.skip("SQLite looks and stores in two statements inside one transaction")
    form = {"regions": ["900", "250"], "from": "2030", "to": "2035", "lags": "3", "level": "0.95"}
    client.post("/", {**form, "to": "2036"})  # loads the data and prepares the statement

    def statements(body):
        with CaptureQueriesContext(connection) as queries:
            response = client.post("/", body)
        assert response.status_code == 302
        sql = [q["sql"] for q in queries]
        return response["Location"], [q for q in sql if not q.startswith(("SAVEPOINT", "RELEASE"))]

    stored_at, stored = statements(form)
    reused_at, reused = statements(form)
    assert stored_at == reused_at
    assert len(stored) == len(reused) == 1, (stored, reused)
    assert stored[0].startswith("EXECUTE popforecasts_run_reuse_or_store_charged (")
    assert ForecastRun.objects.count() == 2
    assert list(RunBudgetUse.objects.values_list("used", flat=True)) == [2]
    assert ForecastRun.objects.get(pk=stored_at.rstrip("/").rsplit("/", 1)[1]).points.count() == 12
