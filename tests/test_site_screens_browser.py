"""Screenshots of the run page and a region page at a desktop and a phone width, saved under
test-artifacts/ (not committed) for a person to look at; the test asserts only that the chart
drew and nothing moved while it did (the box is reserved with CSS aspect-ratio)."""

import os

import pytest

from forecasts import selectors, services

from .conftest import serve_static_by_name

pytestmark = pytest.mark.browser

WIDTHS = [pytest.param((1366, 900), id="1366px"), pytest.param((390, 844), id="390px")]


@pytest.fixture
def site(live_server, transactional_db, small_wide_file, settings):
    serve_static_by_name(settings)
    services.dataset_import(source=str(small_wide_file))
    return live_server


@pytest.mark.parametrize("size", WIDTHS)
def test_screenshots_of_run_and_region_pages(browser, site, artifact_path, size):
    run = services.forecast_run_create(
        regions=selectors.regions_for_forecast(identifiers=["900", "901", "250"]),
        start=2030,
        end=2050,
    ).run
    label = os.environ.get("SCREENSHOT_LABEL", "after")
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    tab = context.new_page()
    try:
        for name, path in (("run", f"/runs/{run.pk}/"), ("region", "/regions/250/")):
            tab.goto(site.url + path)
            tab.wait_for_selector("#population-chart[data-ready='true']")
            tab.screenshot(path=artifact_path(f"{name}-{size[0]}-{label}.png"), full_page=True)
    finally:
        context.close()
