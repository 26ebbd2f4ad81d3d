"""An operator logs in to the admin in Chromium and refreshes the data by uploading a file."""

import pytest

from forecasts.models import Dataset, Job

from .conftest import serve_static_by_name

pytestmark = pytest.mark.browser

PASSWORD = "a-long-test-password"


@pytest.fixture
def unhashed_static_files(settings):
    """The live server serves static files from their sources, under their own names."""
    serve_static_by_name(settings)


def test_staff_user_refreshes_data_through_the_admin(
    transactional_db,
    live_server,
    unhashed_static_files,
    page,
    django_user_model,
    small_wide_file,
    artifact_path,
    run_tasks,
):
    django_user_model.objects.create_user(
        username="operator", password=PASSWORD, is_staff=True, is_superuser=True
    )
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")

    page.goto(f"{live_server.url}/admin/forecasts/dataset/")
    page.click("text=Refresh data")
    page.wait_for_url(f"{live_server.url}/admin/forecasts/dataset/refresh/")
    page.set_input_files("#id_file", str(small_wide_file))
    page.click("input[type=submit][value=Import]")
    # the page answers at once with the queued job, and refreshes itself while the worker runs it
    page.wait_for_selector(".job-status.job-queued")
    job = Job.objects.get()
    assert page.url == f"{live_server.url}/admin/forecasts/job/{job.pk}/change/"
    assert run_tasks() == 1
    page.wait_for_selector("#refresh-result", timeout=10_000)

    dataset = Dataset.objects.get(is_active=True)
    assert page.locator("h1").inner_text() == f"Data import #{job.pk} (succeeded)"
    assert page.locator(".job-message").inner_text().startswith("Imported WPP2019: 7 regions")
    assert page.locator("#refresh-result .region-count").inner_text() == "7"
    assert page.locator("#refresh-result .value-count").inner_text() == f"{dataset.value_count:,}"
    assert dataset.source == f"upload: {small_wide_file.name}"
    page.screenshot(path=artifact_path("admin-refresh.png"), full_page=True)
