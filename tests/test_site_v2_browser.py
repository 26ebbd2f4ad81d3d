"""Site v2 in Chromium, point by point, at 1366 px and 390 px and without JavaScript: the chart
(joined lines, names at the ends, tooltips with the interval, the UN line, no layout shift),
numbers people read with exact counts on hover, tables that scroll with sticky headers, downloads
that stand alone, search that forgives, and a limit said aloud. Sharing is in
test_share_browser.py, axe-core in test_accessibility_browser.py."""

import csv
import io

import pytest
from playwright.sync_api import expect

from forecasts import services
from forecasts.models import Region

from .conftest import refuse_other_hosts, serve_static_by_name
from .test_world import write_un_file

pytestmark = pytest.mark.browser

WIDTHS = [pytest.param((1366, 900), id="1366px"), pytest.param((390, 844), id="390px")]
# Layout shifts after the first paint, summed as Lighthouse's CLS does (one page load, no input).
LAYOUT_SHIFT = """() => new Promise((resolve) => {
    let total = 0;
    new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) { if (!entry.hadRecentInput) total += entry.value; }
    }).observe({type: 'layout-shift', buffered: true});
    setTimeout(() => resolve(total), 500);
})"""


@pytest.fixture
def un_site(live_server, transactional_db, tmp_path, settings):
    """Data with UN projections and a run of France and Niger from 2030 (a gap after 2021)."""
    serve_static_by_name(settings)
    services.dataset_import(source=str(write_un_file(tmp_path)))
    run = services.forecast_run_create(
        regions=list(Region.objects.filter(code__in=[250, 562])), start=2030, end=2060
    ).run
    live_server.run_path = f"/runs/{run.pk}/"
    return live_server


@pytest.fixture
def wpp2019_site(live_server, transactional_db, wpp2019_file, settings):
    serve_static_by_name(settings)
    services.dataset_import(source=str(wpp2019_file))
    return live_server


def _open(browser, site, size, path, **options):
    context = browser.new_context(
        viewport={"width": size[0], "height": size[1]}, accept_downloads=True, **options
    )
    tab = context.new_page()
    refuse_other_hosts(tab, site.url)
    tab.goto(site.url + path)
    return context, tab


def _chart(tab):
    tab.wait_for_selector("#population-chart[data-ready='true']")
    return tab.evaluate(
        """() => {
            const chart = Chart.getChart('population-chart');
            return {
                labels: chart.data.datasets.map((d) => d.label),
                endLabels: chart.config.plugins.map((p) => p.id),
                legend: chart.options.plugins.legend.display,
            };
        }"""
    )


@pytest.mark.parametrize("size", WIDTHS)
def test_run_chart_joins_names_and_explains_its_lines_without_shifting(browser, un_site, size):
    context, tab = _open(browser, un_site, size, un_site.run_path)
    chart = _chart(tab)
    shift = tab.evaluate(LAYOUT_SHIFT)

    assert "France (joining the record to the forecast)" in chart["labels"]
    assert "France (UN Medium)" in chart["labels"] and "Niger (UN Medium)" in chart["labels"]
    assert "endLabels" in chart["endLabels"] and chart["legend"] is False
    assert shift < 0.01, f"layout shift {shift:.3f}"
    expect(tab.locator("#chart-caption")).to_contain_text("UN Medium projection (dotted)")
    expect(tab.locator("#chart-note")).to_contain_text("2022–2029")

    # A forecast point's tooltip: the readable value, the exact count and the interval.
    tooltip = tab.evaluate(
        """() => {
            const chart = Chart.getChart('population-chart');
            const index = chart.data.datasets.findIndex((d) => d.label === 'France (forecast)');
            const element = chart.getDatasetMeta(index).data[5];
            chart.tooltip.setActiveElements([{datasetIndex: index, index: 5}],
                                            {x: element.x, y: element.y});
            chart.update();
            return chart.tooltip.body.map((b) => b.lines.join(' | ')).join(' || ');
        }"""
    )
    assert "France (forecast): " in tooltip and " million (" in tooltip
    assert "95% interval: " in tooltip
    context.close()
    assert tab.foreign_requests == [] and tab.script_errors == []


@pytest.mark.parametrize("size", WIDTHS)
def test_numbers_read_as_words_exact_on_hover_in_tables_that_scroll(browser, un_site, size):
    context, tab = _open(browser, un_site, size, un_site.run_path)
    table = tab.locator("#forecast-table")
    cell = table.locator("tbody tr").first.locator("td").first

    expect(cell).to_contain_text("million")
    exact = cell.locator("[title]").first.get_attribute("title")
    assert exact.endswith(" persons") and exact.split()[0].replace(",", "").isdigit()
    box = tab.locator(".table-scroll").filter(has=tab.locator("#interval-table")).first
    scrolls = box.evaluate("(element) => element.scrollWidth > element.clientWidth")
    assert scrolls == (size[0] < 600), "the interval table scrolls on a phone, fits on a desktop"
    assert box.get_attribute("tabindex") == "0" and box.get_attribute("role") == "region"
    header = tab.locator("#interval-table thead th").first
    assert header.evaluate("(th) => getComputedStyle(th).position") == "sticky"
    context.close()


def test_without_javascript_the_run_page_has_the_servers_chart_and_the_tables(browser, un_site):
    context, tab = _open(browser, un_site, (390, 844), un_site.run_path, java_script_enabled=False)

    svg = tab.locator("#chart-svg svg")
    expect(svg).to_be_visible()
    assert svg.locator("polyline").count() >= 6  # history, join, forecast, UN for each region
    expect(tab.locator("#population-chart")).to_be_hidden()
    expect(tab.locator("#forecast-table tbody tr").first).to_contain_text("million")
    context.close()


@pytest.mark.parametrize("size", WIDTHS)
def test_downloads_carry_what_the_numbers_mean(browser, un_site, tmp_path, size):
    context, tab = _open(browser, un_site, size, un_site.run_path)

    with tab.expect_download() as download:
        tab.get_by_role("link", name="Download CSV").click()
    path = tmp_path / "run.csv"
    download.value.save_as(path)
    text = path.read_text(encoding="utf-8")
    context.close()

    rows = list(csv.DictReader(io.StringIO(text)))
    france = next(row for row in rows if row["region_name"] == "France")
    assert france["method"] == "damped" and france["lags"] == "3" and france["level"] == "0.95"
    assert france["interval"] == "calibrated" and france["dataset"] == "WPP2022"
    assert france["unit"] == "persons" and france["licence"] == "CC BY 3.0 IGO"
    assert "World Population Prospects" in france["source"]
    assert float(france["un_medium"]) > 1_000_000  # the UN comparison the page shows
    assert float(france["value"]) != round(float(france["value"]))  # unrounded, to the person


@pytest.mark.parametrize("size", WIDTHS)
def test_the_dropdown_forgives_aliases_codes_and_iso3(browser, wpp2019_site, size):
    context, tab = _open(browser, wpp2019_site, size, "/")
    control = tab.locator("#id_regions-ts-control")
    for typed, found in (
        ("USA", "United States of America"),
        ("250", "France"),
        ("GBR", "United Kingdom"),
    ):
        control.fill("")
        control.press_sequentially(typed, delay=10)
        expect(tab.locator(".ts-dropdown .option.active")).to_contain_text(found)
    context.close()
    assert tab.script_errors == []


@pytest.mark.parametrize("javascript", [True, False], ids=["with JS", "without JS"])
def test_a_typo_is_answered_with_did_you_mean(browser, wpp2019_site, javascript):
    context, tab = _open(
        browser, wpp2019_site, (390, 844), "/regions/?q=Frnace", java_script_enabled=javascript
    )

    expect(tab.get_by_text("Did you mean")).to_be_visible()
    tab.get_by_role("link", name="France", exact=True).click()
    expect(tab.locator("h1")).to_have_text("France")
    context.close()


@pytest.mark.parametrize("size", WIDTHS)
@pytest.mark.parametrize("javascript", [True, False], ids=["with JS", "without JS"])
def test_a_link_with_21_regions_names_the_limit(browser, wpp2019_site, size, javascript):
    codes = "&".join(
        f"regions={code}"
        for code in [
            4,
            8,
            12,
            20,
            24,
            28,
            31,
            32,
            36,
            40,
            44,
            48,
            50,
            51,
            52,
            56,
            60,
            64,
            68,
            70,
            72,
        ]
    )
    context, tab = _open(browser, wpp2019_site, size, f"/?{codes}", java_script_enabled=javascript)

    expect(tab.get_by_text("Choose at most 20 regions; 21 were given.")).to_be_visible()
    if javascript:  # none of the 21 dropped from the box either
        expect(tab.locator(".ts-control .item")).to_have_count(21)
    context.close()
