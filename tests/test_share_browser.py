"""Sharing a chart in Chromium, on a run's page and a region's page, at 1366 px and 390 px and
without JavaScript: copy the link (with the chart's scale), download it as PNG and SVG, embed it."""

import pytest
from playwright.sync_api import expect

from forecasts import services
from forecasts.models import Region

from .conftest import refuse_other_hosts, serve_static_by_name

pytestmark = pytest.mark.browser

WIDTHS = [pytest.param((1366, 900), id="1366px"), pytest.param((390, 844), id="390px")]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def site(live_server, transactional_db, small_wide_file, settings):
    serve_static_by_name(settings)
    services.dataset_import(source=str(small_wide_file))
    run = services.forecast_run_create(
        regions=list(Region.objects.filter(code__in=[900, 250])), start=2030, end=2040
    ).run
    live_server.pages = {"run": f"/runs/{run.pk}/", "region": "/regions/250/"}
    live_server.files = {"run": f"forecast-run-{run.pk}", "region": "population-250"}
    return live_server


def _tab(browser, site, size, **options):
    context = browser.new_context(
        viewport={"width": size[0], "height": size[1]}, accept_downloads=True, **options
    )
    tab = context.new_page()
    refuse_other_hosts(tab, site.url)
    return context, tab


@pytest.mark.parametrize("size", WIDTHS)
@pytest.mark.parametrize("which", ["run", "region"])
def test_copy_link_keeps_the_scale_and_downloads_are_the_chart(
    browser, site, tmp_path, size, which
):
    context, tab = _tab(browser, site, size)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    page_url = site.url + site.pages[which]
    tab.goto(page_url)
    tab.wait_for_selector("#population-chart[data-ready='true']")

    tab.get_by_role("switch", name="Logarithmic scale").check()
    tab.get_by_role("button", name="Copy link").click()
    expect(tab.locator("#copy-status")).to_have_text("Link copied.")
    assert tab.evaluate("navigator.clipboard.readText()") == page_url + "?scale=log"

    with tab.expect_download() as png:
        tab.get_by_role("link", name="Download PNG").click()
    with tab.expect_download() as svg:
        tab.get_by_role("link", name="Download SVG").click()
    png_path, svg_path = tmp_path / "chart.png", tmp_path / "chart.svg"
    png.value.save_as(png_path)
    svg.value.save_as(svg_path)
    assert png.value.suggested_filename == f"{site.files[which]}.png"
    assert png_path.read_bytes().startswith(PNG_SIGNATURE)
    assert svg.value.suggested_filename == f"{site.files[which]}.svg"
    assert svg_path.read_text(encoding="utf-8").startswith("<?xml")
    assert "?download=1&scale=log" in svg.value.url  # the scale chosen on the page
    assert "scale=log" in tab.get_by_role("link", name="Embed").get_attribute("href")
    tab.locator(".embed-code summary").click()
    expect(tab.locator("#embed-html")).to_contain_text("<iframe src=")
    context.close()
    assert tab.foreign_requests == [] and tab.script_errors == []


@pytest.mark.parametrize("which", ["run", "region"])
def test_without_javascript_the_chart_is_the_servers_and_its_svg_downloads(
    browser, site, tmp_path, which
):
    context, tab = _tab(browser, site, (390, 844), java_script_enabled=False)
    tab.goto(site.url + site.pages[which])

    expect(tab.locator("#chart-svg svg")).to_be_visible()
    expect(tab.get_by_role("button", name="Copy link")).to_be_hidden()
    with tab.expect_download() as svg:
        tab.get_by_role("link", name="Download SVG").click()
    with tab.expect_download() as png:  # the server's drawing of the same chart
        tab.get_by_role("link", name="Download PNG").click()
    svg_path, png_path = tmp_path / "chart.svg", tmp_path / "chart.png"
    svg.value.save_as(svg_path)
    png.value.save_as(png_path)
    assert svg_path.read_text(encoding="utf-8").startswith("<?xml")
    assert png_path.read_bytes().startswith(PNG_SIGNATURE)
    assert png.value.suggested_filename == f"{site.files[which]}.png"
    context.close()


@pytest.mark.parametrize("size", WIDTHS)
def test_the_embed_page_shows_the_region_chart_alone(browser, site, size):
    context, tab = _tab(browser, site, size)
    tab.goto(site.url + "/regions/250/embed/")

    tab.wait_for_selector("#population-chart[data-ready='true']")
    expect(tab.get_by_role("link", name="France on Population forecasts")).to_be_visible()
    assert tab.locator("nav").count() == 0
    context.close()
    assert tab.script_errors == []
