"""The site in a real browser: Debian's Chromium through Playwright against a live server."""

import csv
import io

import pytest
from playwright.sync_api import expect

from forecasts import presenters, selectors, services
from forecasts.models import ForecastRun
from tests.conftest import refuse_other_hosts, serve_static_by_name

pytestmark = pytest.mark.browser


@pytest.fixture
def site(live_server, transactional_db, small_wide_file, settings):
    """The live server with the small WPP2019 file imported (the server thread shares the data).

    The live server serves static files through the staticfiles finders, which know the files by
    their own names, not by the hashed names of the manifest storage used with DEBUG off.
    """
    serve_static_by_name(settings)
    services.dataset_import(source=str(small_wide_file))
    return live_server


@pytest.fixture
def tab(page, site):
    """A browser tab that may only talk to the live server; anything else is refused and noted."""
    refuse_other_hosts(page, site.url)
    yield page
    assert page.foreign_requests == []
    assert page.script_errors == []


def _pick(tab, text):
    control = tab.locator("#id_regions-ts-control")
    control.click()
    control.press_sequentially(text, delay=20)
    # The option shows the region's codes after its name ("France 250 · FRA").
    expect(tab.locator(".ts-dropdown .option.active")).to_contain_text(text)
    control.press("Enter")
    expect(tab.locator(".ts-control .item", has_text=text)).to_have_count(1)


def _canvas_has_pixels(tab):
    tab.wait_for_selector("#population-chart[data-ready='true']")
    return tab.evaluate(
        """() => {
            const canvas = document.getElementById('population-chart');
            const pixels = canvas.getContext('2d')
                .getImageData(0, 0, canvas.width, canvas.height).data;
            let drawn = 0;
            for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) drawn += 1; }
            return drawn;
        }"""
    )


def _expected_table():
    regions = selectors.regions_for_forecast(identifiers=["900", "901"])
    results = services.forecast_compute(
        regions=regions, start=2030, end=2035, method="levels", lags=1
    )
    return results, [
        [str(point.year)]
        + [presenters.persons_readable(result.points[i].value) for result in results]
        for i, point in enumerate(results[0].points)
    ]


def test_pick_two_regions_by_typing_and_see_table_chart_permalink_and_csv(tab, site, artifact_path):
    tab.goto(site.url + "/")
    tab.screenshot(path=artifact_path("home.png"), full_page=True)

    _pick(tab, "WORLD")
    _pick(tab, "More developed regions")
    assert tab.locator("#id_regions").evaluate(
        "select => Array.from(select.selectedOptions, option => option.value)"
    ) == ["900", "901"]
    tab.fill("#id_from", "2030")
    tab.fill("#id_to", "2035")
    tab.select_option("#id_method", "levels")
    tab.fill("#id_lags", "1")
    tab.get_by_role("button", name="Forecast", exact=True).click()

    tab.wait_for_url("**/runs/*/")
    run = ForecastRun.objects.get()
    assert tab.url == f"{site.url}/runs/{run.pk}/"
    results, expected_rows = _expected_table()
    header = tab.locator("#forecast-table thead th").all_inner_texts()
    rows = [
        row.locator("th, td").all_inner_texts()
        for row in tab.locator("#forecast-table tbody tr").all()
    ]
    assert header == ["Year", "WORLD", "More developed regions"]
    assert rows == expected_rows
    assert _canvas_has_pixels(tab) > 1000
    tab.screenshot(path=artifact_path("run.png"), full_page=True)

    tab.locator("#permalink").click()
    tab.wait_for_load_state()
    assert tab.url == f"{site.url}/runs/{run.pk}/"
    assert (
        tab.locator("#forecast-table tbody tr").first.locator("td").all_inner_texts()
        == (expected_rows[0][1:])
    )

    with tab.expect_download() as download_info:
        tab.get_by_role("link", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename == f"forecast-run-{run.pk}.csv"
    with open(download.path(), encoding="utf-8") as file:
        records = list(csv.DictReader(io.StringIO(file.read())))
    downloaded = {(int(r["region_code"]), int(r["year"])): float(r["value"]) for r in records}
    computed = {
        (result.code, point.year): point.value for result in results for point in result.points
    }
    assert downloaded.keys() == computed.keys()
    for key, value in computed.items():
        assert downloaded[key] == pytest.approx(value, rel=1e-12)


def test_log_scale_switch_redraws_the_chart(tab, site, artifact_path):
    tab.goto(site.url + "/regions/900/")
    assert _canvas_has_pixels(tab) > 1000

    tab.get_by_label("Logarithmic scale").check()

    scale = tab.evaluate("() => Chart.getChart('population-chart').scales.y.type")
    assert scale == "logarithmic"
    tab.screenshot(path=artifact_path("region-log.png"), full_page=True)


def test_region_page_button_opens_the_form_with_the_region_chosen(tab, site):
    tab.goto(site.url + "/regions/250/")

    tab.get_by_role("link", name="Forecast this region").click()

    tab.wait_for_url("**/?regions=250")
    items = tab.locator(".ts-control .item")
    expect(items).to_have_count(1)
    assert items.get_attribute("data-value") == "250"
    assert "France" in items.inner_text()


def test_dropdown_finds_a_region_by_code_iso3_or_common_name(tab, site):
    tab.goto(site.url + "/")
    control = tab.locator("#id_regions-ts-control")
    for typed in ("250", "FRA", "Vatican"):
        control.fill("")
        control.press_sequentially(typed, delay=20)
        expect(tab.locator(".ts-dropdown .option.active")).to_contain_text(
            "Holy See" if typed == "Vatican" else "France"
        )
    assert tab.locator("#id_regions").get_attribute("aria-label") == "Regions"


def test_form_errors_show_beside_the_fields_in_the_browser(tab, site):
    tab.goto(site.url + "/")
    _pick(tab, "France")
    tab.fill("#id_from", "2040")
    tab.fill("#id_to", "2030")

    tab.get_by_role("button", name="Forecast", exact=True).click()

    tab.wait_for_selector("#id_to_error")
    assert "must not be after the end year" in tab.inner_text("#id_to_error")
    assert ForecastRun.objects.count() == 0


def test_history_lists_the_run_after_a_forecast(tab, site):
    tab.goto(site.url + "/")
    _pick(tab, "Holy See")
    tab.get_by_role("button", name="Forecast", exact=True).click()
    tab.wait_for_url("**/runs/*/")

    tab.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()

    assert "Holy See" in tab.inner_text("#runs-table")


def test_form_works_without_javascript(browser, site):
    context = browser.new_context(java_script_enabled=False)
    tab = context.new_page()
    try:
        tab.goto(site.url + "/")
        tab.select_option("#id_regions", ["900", "901"])
        tab.fill("#id_from", "2030")
        tab.fill("#id_to", "2035")
        tab.select_option("#id_method", "levels")
        tab.fill("#id_lags", "1")
        tab.get_by_role("button", name="Forecast", exact=True).click()
        tab.wait_for_url("**/runs/*/")
        rows = [
            row.locator("th, td").all_inner_texts()
            for row in tab.locator("#forecast-table tbody tr").all()
        ]
        assert rows == _expected_table()[1]
    finally:
        context.close()
