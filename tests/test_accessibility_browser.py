"""axe-core on every page of the site, in Chromium at a desktop and a phone width.

axe-core is vendored from npm into tests/vendor/ (scripts/vendor-static.sh) and injected into each
page after it has loaded and drawn its charts; every rule axe runs by default (WCAG 2.x A and AA
and its best practices) must find nothing. The data are a WPP long file with UN projections, so the
pages show everything they can: the UN comparison on run and region pages, the world page's
disagreement view, the accuracy page's three horizons.
"""

from pathlib import Path

import pytest

from forecasts import services
from forecasts.models import Region

from .conftest import refuse_other_hosts, serve_static_by_name
from .test_world import write_un_file

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
WIDTHS = [pytest.param((1366, 900), id="1366px"), pytest.param((390, 844), id="390px")]
# Each page, and what shows it is fully drawn (axe must see the page as a person does).
PAGES = {
    "home": ("/", ".forecast-form"),
    "home, form with errors": ("/?from=2100&to=2030&regions=250", ".forecast-form"),
    "run": ("/runs/{run}/", "#population-chart[data-ready='true']"),
    "run, log scale": ("/runs/{run}/?scale=log", "#population-chart[data-ready='true']"),
    "run embed": ("/runs/{run}/embed/", "#population-chart[data-ready='true']"),
    "runs": ("/runs/", "main"),
    "regions": ("/regions/", "main"),
    "regions, search": ("/regions/?q=fr", "main"),
    "region": ("/regions/250/", "#population-chart[data-ready='true']"),
    "accuracy": ("/accuracy/", "main"),
    "world": ("/world/", "#world-map[data-ready='true']"),
    "world, disagreement": ("/world/?view=disagreement", "#world-map[data-ready='true']"),
    "not found": ("/regions/999999/", "main"),
    "admin sign-in": ("/admin/login/", "#login-form"),
}


@pytest.fixture(scope="module")
def axe_source():
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run scripts/vendor-static.sh")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture
def site(live_server, transactional_db, tmp_path, settings):
    """A site with UN projections, one stored run and the accuracy backtests."""
    serve_static_by_name(settings)
    services.dataset_import(source=str(write_un_file(tmp_path)))
    services.accuracy_refresh()
    run = services.forecast_run_create(
        regions=list(Region.objects.filter(code__in=[250, 562])), start=2030, end=2050
    )
    live_server.run_id = run.run.pk
    return live_server


def _violations(tab, axe_source):
    """axe's violations on the page as (rule, impact, help, first offending elements)."""
    tab.add_script_tag(content=axe_source)
    found = tab.evaluate("async () => (await axe.run(document)).violations")
    return [
        (v["id"], v["impact"], v["help"], [node["target"] for node in v["nodes"][:3]])
        for v in found
    ]


@pytest.mark.parametrize("size", WIDTHS)
@pytest.mark.parametrize("path, ready", PAGES.values(), ids=PAGES.keys())
def test_axe_finds_no_violation(browser, site, axe_source, size, path, ready):
    # bypass_csp lets the test inject axe; the pages' own scripts are unchanged.
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, bypass_csp=True)
    tab = context.new_page()
    refuse_other_hosts(tab, site.url)
    try:
        tab.goto(site.url + path.format(run=site.run_id))
        tab.wait_for_selector(ready, state="attached", timeout=10_000)
        violations = _violations(tab, axe_source)
    finally:
        context.close()

    assert violations == []
    assert tab.foreign_requests == []
    assert tab.script_errors == []
