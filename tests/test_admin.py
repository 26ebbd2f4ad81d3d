"""The admin: who may see it, data refresh from an upload or a URL (a background job), read-only
data, forecast runs (re-run and prune as jobs)."""

import functools
import gzip
import http.server
import socket
import threading

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.db import connection, connections
from django.test import Client, override_settings
from django.urls import reverse

from forecasts import admin as forecasts_admin
from forecasts import presenters, services, wpp
from forecasts.admin.forms import UploadSizeLimitHandler, human_size
from forecasts.models import Dataset, ForecastPoint, ForecastRun, Job, Region, YearlyPopulation

REFRESH_URL = "/admin/forecasts/dataset/refresh/"
PASSWORD = "a-long-test-password"


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def france_run(small_dataset):
    return services.forecast_run_create(
        regions=[Region.objects.get(code=250)], start=2018, end=2025
    ).run


def data_snapshot():
    """What a refresh replaces: the active dataset, the regions and every value."""
    return (
        Dataset.objects.filter(is_active=True).values_list("pk", flat=True).first(),
        list(Region.objects.order_by("code").values_list("code", "name", "parent_id")),
        list(
            YearlyPopulation.objects.order_by("region_id", "variant", "year").values_list(
                "region_id", "variant", "year", "persons"
            )
        ),
    )


def upload(client, path, **data):
    with open(path, "rb") as file:
        return client.post(REFRESH_URL, {"file": file, **data})


def job_page(client, job):
    return client.get(reverse("admin:forecasts_job_change", args=[job.pk])).content.decode()


def refresh_and_run(client, run_tasks, path=None, **data):
    """Ask for a refresh (an upload when ``path`` is given), check the page answered at once with
    the queued job's page, run the worker; returns the job and its page when done."""
    response = upload(client, path, **data) if path else client.post(REFRESH_URL, data)
    job = Job.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:forecasts_job_change", args=[job.pk])
    assert job.status == Job.Status.QUEUED
    assert run_tasks() == 1
    job.refresh_from_db()
    return job, job_page(client, job)


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def admin_pages(small_dataset, france_run):
    world = Region.objects.get(code=900)
    value = YearlyPopulation.objects.filter(region=world).first()
    job = services.job_prune_enqueue(older_than_days=30)
    return [
        reverse("admin:forecasts_job_changelist"),
        reverse("admin:forecasts_job_change", args=[job.pk]),
        reverse("admin:forecasts_forecastrun_prune"),
        "/admin/",
        "/admin/forecasts/",
        reverse("admin:forecasts_dataset_changelist"),
        reverse("admin:forecasts_dataset_change", args=[small_dataset.pk]),
        REFRESH_URL,
        reverse("admin:forecasts_dataset_refresh_result", args=[small_dataset.pk]),
        reverse("admin:forecasts_region_changelist"),
        reverse("admin:forecasts_region_change", args=[world.pk]),
        reverse("admin:forecasts_yearlypopulation_changelist"),
        reverse("admin:forecasts_yearlypopulation_change", args=[value.pk]),
        reverse("admin:forecasts_forecastrun_changelist"),
        reverse("admin:forecasts_forecastrun_change", args=[france_run.pk]),
    ]


# Who may see the admin


@pytest.mark.django_db
def test_admin_pages_load_for_staff(staff_client, small_dataset, france_run):
    for url in admin_pages(small_dataset, france_run):
        assert staff_client.get(url).status_code == 200, url


@pytest.mark.django_db
def test_admin_pages_send_anonymous_users_to_login(client, small_dataset, france_run):
    for url in admin_pages(small_dataset, france_run):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith("/admin/login/?next="), url


@pytest.mark.django_db
def test_refresh_page_sends_users_who_are_not_staff_to_login(client, django_user_model):
    user = django_user_model.objects.create_user(username="reader", password=PASSWORD)
    client.force_login(user)
    response = client.get(REFRESH_URL)
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


@pytest.mark.django_db
def test_refresh_needs_the_add_dataset_permission(client, django_user_model, small_wide_file):
    user = django_user_model.objects.create_user(username="clerk", password=PASSWORD, is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_dataset"))
    client.force_login(user)
    assert client.get(REFRESH_URL).status_code == 403
    assert upload(client, small_wide_file).status_code == 403
    assert not Dataset.objects.exists()
    assert not Job.objects.exists()
    changelist = client.get(reverse("admin:forecasts_dataset_changelist"))
    assert REFRESH_URL not in changelist.content.decode()


@pytest.mark.django_db
def test_a_user_who_may_not_refresh_makes_the_server_read_none_of_the_upload(
    django_user_model, small_wide_file, monkeypatch
):
    """With a valid CSRF token, checking it reads the body: the permission must come first."""
    from forecasts.admin import forms as admin_forms

    client = Client(enforce_csrf_checks=True)
    user = django_user_model.objects.create_user(username="clerk", password=PASSWORD, is_staff=True)
    client.force_login(user)
    client.get(reverse("admin:index"))
    token = client.cookies["csrftoken"].value
    monkeypatch.setattr(
        admin_forms.UploadSizeLimitHandler,
        "receive_data_chunk",
        lambda *args: pytest.fail("the upload was read before the permission check"),
    )
    assert upload(client, small_wide_file, csrfmiddlewaretoken=token).status_code == 403


@pytest.mark.django_db
def test_refresh_checks_the_csrf_token(staff_user, small_wide_file):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    assert upload(client, small_wide_file).status_code == 403
    assert not Job.objects.exists()
    token = client.get(REFRESH_URL).context["csrf_token"]
    assert upload(client, small_wide_file, csrfmiddlewaretoken=str(token)).status_code == 302


@pytest.mark.django_db
def test_import_history_and_app_index_link_to_the_refresh_page(staff_client):
    for url in ["/admin/forecasts/", reverse("admin:forecasts_dataset_changelist")]:
        assert f'href="{REFRESH_URL}"' in staff_client.get(url).content.decode(), url


@pytest.mark.django_db
def test_data_cannot_be_added_changed_or_deleted_in_the_admin(staff_client, small_dataset):
    world = Region.objects.get(code=900)
    for url in [
        reverse("admin:forecasts_dataset_add"),
        reverse("admin:forecasts_region_add"),
        reverse("admin:forecasts_region_delete", args=[world.pk]),
        reverse("admin:forecasts_dataset_delete", args=[small_dataset.pk]),
    ]:
        assert staff_client.get(url).status_code == 403, url
    response = staff_client.post(
        reverse("admin:forecasts_region_change", args=[world.pk]), {"name": "Earth"}
    )
    assert response.status_code == 403
    assert Region.objects.get(code=900).name == "WORLD"


# Refresh from an upload


@pytest.fixture
def long_gzip_file(tmp_path, small_long_file):
    path = tmp_path / "WPP2024_small.csv.gz"
    path.write_bytes(gzip.compress(small_long_file.read_bytes()))
    return path


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fixture", "edition", "file_format", "regions", "variants"),
    [
        ("small_wide_file", "WPP2019", wpp.WIDE, 7, ["Estimates"]),
        ("small_long_file", "WPP2022", wpp.LONG, 2, ["Estimates", "High", "Low", "Medium"]),
        ("long_gzip_file", "WPP2024", wpp.LONG, 2, ["Estimates", "High", "Low", "Medium"]),
    ],
)
def test_refresh_imports_each_file_format(
    request, staff_client, run_tasks, fixture, edition, file_format, regions, variants
):
    path = request.getfixturevalue(fixture)
    job, page = refresh_and_run(staff_client, run_tasks, path)
    dataset = Dataset.objects.get()
    assert (job.status, job.dataset, job.result) == (
        Job.Status.SUCCEEDED,
        dataset,
        {"dataset": dataset.pk, "edition": edition},
    )
    assert (dataset.status, dataset.is_active) == (Dataset.Status.SUCCEEDED, True)
    assert (dataset.edition, dataset.file_format, dataset.region_count) == (
        edition,
        file_format,
        regions,
    )
    assert sorted(dataset.variants) == variants
    assert dataset.source == f"upload: {path.name}"
    assert dataset.value_count == YearlyPopulation.objects.count() > 0

    assert "Succeeded" in page
    assert 'http-equiv="refresh"' not in page  # finished: the page stops refreshing
    for text in [
        edition,
        file_format,
        f"{dataset.value_count:,}",
        f"{dataset.duration_seconds:.2f}",
    ]:
        assert text in page


@pytest.mark.django_db
def test_refresh_result_page_shows_counts_years_and_variants(
    staff_client, run_tasks, small_long_file
):
    refresh_and_run(staff_client, run_tasks, small_long_file, last_estimate_year=2021)
    dataset = Dataset.objects.get()
    page = staff_client.get(
        reverse("admin:forecasts_dataset_refresh_result", args=[dataset.pk])
    ).content.decode()
    assert dataset.last_estimate_year == 2021
    assert '<td class="region-count">2</td>' in page
    assert f'<td class="value-count">{dataset.value_count:,}</td>' in page
    assert "1950–2100" in page
    assert ", ".join(dataset.variants) in page


@pytest.mark.django_db
@override_settings(FILE_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_a_large_upload_streams_to_a_temporary_file(
    staff_client, run_tasks, small_long_file, tmp_path, monkeypatch
):
    received = []
    store = services.upload_store

    def spy(upload):
        received.append(upload)
        return store(upload)

    monkeypatch.setattr(services, "upload_store", spy)
    (tmp_path / "django").mkdir()
    with override_settings(FILE_UPLOAD_TEMP_DIR=str(tmp_path / "django")):
        refresh_and_run(staff_client, run_tasks, small_long_file)
    assert isinstance(received[0], TemporaryUploadedFile)
    assert Dataset.objects.get().value_count == YearlyPopulation.objects.count()


@pytest.mark.django_db
def test_an_upload_is_kept_for_the_worker_and_removed_after_its_import(
    staff_client, run_tasks, small_wide_file, broken_wide_file, tmp_path, upload_dir
):
    (tmp_path / "django").mkdir()
    for path in [small_wide_file, broken_wide_file]:
        with override_settings(FILE_UPLOAD_TEMP_DIR=str(tmp_path / "django")):
            assert upload(staff_client, path).status_code == 302
        # the request is over and Django's temporary file gone: the worker's copy waits
        assert list(tmp_path.joinpath("django").iterdir()) == []
        (kept,) = upload_dir.glob("*/*")
        assert kept.name == path.name
        assert kept.read_bytes() == path.read_bytes()
        run_tasks()
        assert list(upload_dir.iterdir()) == []  # removed after a success and after a failure
    assert list(Job.objects.order_by("pk").values_list("status", flat=True)) == [
        Job.Status.SUCCEEDED,
        Job.Status.FAILED,
    ]


@pytest.fixture
def broken_wide_file(tmp_path, small_wide_file):
    """The small wide file with France's 1950 value misspelt (line 8, column 1950)."""
    path = tmp_path / "WPP2019_broken.csv"
    path.write_bytes(small_wide_file.read_bytes().replace(b"  41 834", b"  41 8x4"))
    return path


@pytest.mark.django_db
def test_bad_upload_shows_its_line_and_column_and_changes_nothing(
    staff_client, run_tasks, small_dataset, broken_wide_file
):
    before = data_snapshot()
    job, page = refresh_and_run(staff_client, run_tasks, broken_wide_file)
    assert job.status == Job.Status.FAILED
    assert "The job failed; the data was not changed." in page
    assert "line 8, column &#x27;1950&#x27;" in page
    assert 'http-equiv="refresh"' not in page
    assert data_snapshot() == before
    failed = Dataset.objects.get(status=Dataset.Status.FAILED)
    assert job.dataset == failed
    assert failed.source == "upload: WPP2019_broken.csv"
    assert "line 8" in failed.error
    assert reverse("admin:forecasts_dataset_refresh_result", args=[failed.pk]) in page


@pytest.mark.django_db
def test_upload_over_the_size_limit_is_refused_with_its_size(
    staff_client, small_dataset, small_wide_file
):
    before = data_snapshot()
    with override_settings(WPP_UPLOAD_MAX_BYTES=100, FILE_UPLOAD_MAX_MEMORY_SIZE=0):
        response = upload(staff_client, small_wide_file)
    assert response.status_code == 400
    # only an empty stand-in reached the form: the file was not kept past the limit
    assert not isinstance(response.wsgi_request.FILES["file"], TemporaryUploadedFile)
    size = human_size(small_wide_file.stat().st_size)
    assert f"The file is {size}; the limit is 100 bytes." in response.content.decode()
    assert data_snapshot() == before
    assert Dataset.objects.count() == 1


def test_size_limit_handler_stops_keeping_an_upload_past_the_limit():
    handler = UploadSizeLimitHandler(limit=10)
    handler.new_file("file", "WPP2024.csv", "text/csv", None)
    assert handler.receive_data_chunk(b"12345678", 0) == b"12345678"
    assert handler.receive_data_chunk(b"12345678", 8) is None
    assert handler.receive_data_chunk(b"1234", 16) is None
    stand_in = handler.file_complete(20)
    assert (stand_in.name, stand_in.size, stand_in.read()) == ("WPP2024.csv", 20, b"")


def test_size_limit_handler_lets_a_small_upload_through():
    handler = UploadSizeLimitHandler(limit=10)
    handler.new_file("file", "WPP2024.csv", "text/csv", None)
    assert handler.receive_data_chunk(b"1234567890", 0) == b"1234567890"
    assert handler.file_complete(10) is None


@pytest.mark.django_db
def test_refresh_needs_a_file_or_a_url(staff_client):
    response = staff_client.post(REFRESH_URL, {})
    assert response.status_code == 400
    assert "Upload a WPP file or give its URL." in response.content.decode()


@pytest.mark.django_db
def test_refresh_refuses_a_file_and_a_url_together(staff_client, small_wide_file):
    response = upload(staff_client, small_wide_file, url="https://example.org/WPP2024.csv")
    assert response.status_code == 400
    assert "Upload a file or give a URL, not both." in response.content.decode()
    assert not Dataset.objects.exists()


@pytest.mark.django_db
def test_refresh_refuses_files_that_are_not_csv(staff_client, tmp_path):
    path = tmp_path / "WPP2024.xlsx"
    path.write_bytes(b"PK\x03\x04")
    response = upload(staff_client, path)
    assert response.status_code == 400
    assert "Upload a .csv or .csv.gz file; &#x27;WPP2024.xlsx&#x27; is neither." in (
        response.content.decode()
    )


@pytest.mark.django_db
def test_refresh_refuses_urls_that_are_not_http(staff_client, small_dataset):
    response = staff_client.post(REFRESH_URL, {"url": "file:///etc/passwd"})
    assert response.status_code == 400
    assert "Enter an http:// or https:// address of a WPP file." in response.content.decode()
    assert Dataset.objects.count() == 1


@pytest.fixture
def fixtures_server(small_long_file):
    """An HTTP server on 127.0.0.1 serving the fixtures folder."""
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(small_long_file.parent)
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.django_db
def test_refresh_from_a_url_imports_the_file(staff_client, run_tasks, fixtures_server, tmp_path):
    url = f"{fixtures_server}/wpp2022_small.csv"
    with override_settings(WPP_CACHE_DIR=tmp_path, WPP_DOWNLOAD_ALLOW_PRIVATE=True):
        job, page = refresh_and_run(staff_client, run_tasks, url=url)
    dataset = Dataset.objects.get()
    assert (job.status, job.dataset, job.description) == (
        Job.Status.SUCCEEDED,
        dataset,
        f"Import {url}",
    )
    assert "Imported WPP2022: 2 regions" in page
    assert (dataset.source, dataset.edition, dataset.is_active) == (url, "WPP2022", True)
    assert dataset.region_count == 2


@pytest.mark.django_db
def test_refresh_from_an_unreachable_url_says_so_and_changes_nothing(
    staff_client, run_tasks, small_dataset, tmp_path
):
    before = data_snapshot()
    url = f"http://127.0.0.1:{closed_port()}/WPP2024_TotalPopulationBySex.csv.gz"
    with override_settings(WPP_CACHE_DIR=tmp_path, WPP_DOWNLOAD_ALLOW_PRIVATE=True):
        job, page = refresh_and_run(staff_client, run_tasks, url=url)
    assert job.status == Job.Status.FAILED
    assert f"Could not download {url}" in page
    assert data_snapshot() == before


@pytest.mark.django_db
def test_refresh_while_another_import_runs_is_refused(staff_client, run_tasks, small_long_file):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite makes the second import wait on its write lock instead")
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [services.datasets.IMPORT_LOCK_ID])
            assert cursor.fetchone()[0], "another test session holds the import lock"
        job, page = refresh_and_run(staff_client, run_tasks, small_long_file)
    finally:
        other.close()
    assert job.status == Job.Status.FAILED
    assert "Another import is running; nothing was changed." in page
    assert data_snapshot() == (None, [], [])
    assert Dataset.objects.get().status == Dataset.Status.FAILED


# Read-only data


@pytest.mark.django_db
def test_population_changelist_makes_a_fixed_number_of_queries(
    staff_client, small_dataset, django_assert_max_num_queries
):
    assert YearlyPopulation.objects.count() > 100  # a full page from several regions
    with django_assert_max_num_queries(10):
        response = staff_client.get(reverse("admin:forecasts_yearlypopulation_changelist"))
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 100


@pytest.mark.django_db
def test_population_changelist_filters_by_variant_and_decade(staff_client, small_long_file):
    services.dataset_import(source=str(small_long_file))
    response = staff_client.get(
        reverse("admin:forecasts_yearlypopulation_changelist"), {"variant": "Low", "decade": "2050"}
    )
    rows = response.context["cl"].result_list
    assert {(row.variant, row.year // 10 * 10) for row in rows} == {("Low", 2050)}
    assert len(rows) == 2 * 10
    page = response.content.decode()
    assert "decade=2090" in page and "variant=High" in page


@pytest.mark.django_db
def test_population_changelist_refuses_a_bad_decade_without_error(staff_client, small_dataset):
    url = reverse("admin:forecasts_yearlypopulation_changelist")
    for bad in ["abc", "99999999999999999999"]:
        response = staff_client.get(url, {"decade": bad})
        assert response.status_code == 302
        assert response.url.endswith("?e=1")


@pytest.mark.django_db
@pytest.mark.parametrize("term", ["france", "250", "Fran"])
def test_population_changelist_searches_by_region(staff_client, small_dataset, term):
    response = staff_client.get(reverse("admin:forecasts_yearlypopulation_changelist"), {"q": term})
    rows = response.context["cl"].result_list
    assert {row.region_id for row in rows} == {250}
    assert response.context["cl"].result_count == 71


@pytest.mark.django_db
def test_estimated_count_is_used_only_for_an_unfiltered_postgresql_table(
    wpp2019_dataset, django_assert_num_queries
):
    paginator_class = forecasts_admin.regions.EstimatedCountPaginator
    everything = YearlyPopulation.objects.order_by("region_id", "variant", "year")
    france = everything.filter(region_id=250)
    assert paginator_class(france, 100).count == 71
    if connection.vendor != "postgresql":
        assert paginator_class(everything, 100).count == everything.count()
        return
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE forecasts_yearlypopulation")
    with django_assert_num_queries(1) as captured:
        estimate = paginator_class(everything, 100).count
    assert "reltuples" in captured.captured_queries[0]["sql"]
    assert estimate == everything.count()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("term", "codes"),
    [
        ("developed", {901, 902}),
        ("250", {250}),
        ("c\u00f4te", {384}),
        ("99999999999999999999", set()),
    ],
)
def test_region_search_by_name_or_code(staff_client, small_dataset, term, codes):
    response = staff_client.get(reverse("admin:forecasts_region_changelist"), {"q": term})
    assert response.status_code == 200
    assert {region.code for region in response.context["cl"].result_list} == codes


@pytest.mark.django_db
def test_region_search_by_iso3(staff_client, small_dataset):
    Region.objects.filter(code=250).update(iso3="FRA")
    response = staff_client.get(reverse("admin:forecasts_region_changelist"), {"q": "fra"})
    assert {region.code for region in response.context["cl"].result_list} == {250}


@pytest.mark.django_db
def test_region_changelist_filters_by_kind_and_counts_values(staff_client, small_dataset):
    response = staff_client.get(
        reverse("admin:forecasts_region_changelist"), {"kind": "Development Group"}
    )
    regions = response.context["cl"].result_list
    assert {region.code for region in regions} == {901, 902}
    assert {region.value_count for region in regions} == {71}
    heading = staff_client.get(reverse("admin:forecasts_region_changelist"), {"q": "1803"})
    assert heading.context["cl"].result_list[0].value_count == 0


@pytest.mark.django_db
def test_region_page_links_its_parent_and_children(staff_client, small_dataset):
    heading = Region.objects.get(code=1803)
    page = staff_client.get(
        reverse("admin:forecasts_region_change", args=[heading.pk])
    ).content.decode()
    for child in Region.objects.filter(code__in=[901, 902]):
        assert f'<a href="{reverse("admin:forecasts_region_change", args=[child.pk])}">' in page
        assert child.name in page
    world = Region.objects.get(code=900)
    assert reverse("admin:forecasts_region_change", args=[world.pk]) in page


# Forecast runs


def rerun(client, runs, run_tasks=None):
    """Select runs and re-run them: the admin queues one job; with ``run_tasks`` the worker runs
    it. Returns the response (the job's page) and the job."""
    response = client.post(
        reverse("admin:forecasts_forecastrun_changelist"),
        {"action": "rerun_on_current_data", "_selected_action": [run.pk for run in runs]},
    )
    job = Job.objects.filter(kind=Job.Kind.RERUN).first()
    if job is None:
        return client.get(reverse("admin:forecasts_forecastrun_changelist")), None
    assert response.status_code == 302
    assert response.url == reverse("admin:forecasts_job_change", args=[job.pk])
    if run_tasks:
        assert run_tasks() == 1
        job.refresh_from_db()
    return client.get(response.url), job


def points_of(run):
    return list(run.points.order_by("region_code", "year").values_list("year", "value", "lower"))


@pytest.mark.django_db
def test_rerun_creates_new_runs_on_current_data_and_keeps_the_old_ones(
    staff_client, run_tasks, france_run, small_wide_file
):
    world_run = services.forecast_run_create(
        regions=[Region.objects.get(code=900), Region.objects.get(code=250)],
        start=2020,
        end=2030,
        lags=2,
        level=0.8,
    ).run
    old_points = {run.pk: points_of(run) for run in [france_run, world_run]}
    first_dataset = france_run.dataset
    current = services.dataset_import(source=str(small_wide_file))

    response, job = rerun(staff_client, [france_run, world_run], run_tasks)

    assert response.status_code == 200
    assert job.status == Job.Status.SUCCEEDED
    new_runs = ForecastRun.objects.exclude(pk__in=[france_run.pk, world_run.pk]).order_by("pk")
    assert len(new_runs) == 2
    for old, new in zip([france_run, world_run], new_runs, strict=True):
        old.refresh_from_db()
        assert old.dataset == first_dataset
        assert points_of(old) == old_points[old.pk]
        assert new.dataset == current
        assert (new.regions, new.start_year, new.end_year, new.lags, new.level) == (
            old.regions,
            old.start_year,
            old.end_year,
            old.lags,
            old.level,
        )
        assert points_of(new) == points_of(old)  # the same file imported again
    page = response.content.decode()
    assert "Created 2 new run(s) on the current data." in page
    for new in new_runs:
        assert reverse("admin:forecasts_forecastrun_change", args=[new.pk]) in page


@pytest.mark.django_db
def test_rerun_of_a_region_the_data_lacks_is_reported_not_raised(
    staff_client, run_tasks, france_run, small_long_file
):
    services.dataset_import(source=str(small_long_file))
    response, job = rerun(staff_client, [france_run], run_tasks)
    assert response.status_code == 200
    assert job.status == Job.Status.SUCCEEDED
    assert "0 new run(s) on the current data; 1 could not be re-run." in job.message
    assert (
        f"Run #{france_run.pk} was not re-run: Not in the current data: France (250)"
        in response.content.decode()
    )
    assert list(ForecastRun.objects.all()) == [france_run]


@pytest.mark.django_db
def test_rerun_refuses_too_many_runs_at_once(staff_client, france_run, monkeypatch):
    monkeypatch.setattr(forecasts_admin.runs, "MAX_RERUNS", 1)
    second = services.forecast_run_create(
        regions=[Region.objects.get(code=250)], start=2030, end=2031
    ).run
    response, job = rerun(staff_client, [france_run, second])
    assert job is None
    assert "Select at most 1 runs to re-run at once; 2 were selected." in (
        str(message) for message in get_messages(response.wsgi_request)
    )
    assert ForecastRun.objects.count() == 2


@pytest.mark.django_db
def test_run_page_shows_its_results_table(staff_client, france_run):
    page = staff_client.get(
        reverse("admin:forecasts_forecastrun_change", args=[france_run.pk])
    ).content.decode()
    header, rows = presenters.results_table(services.forecast_run_results(france_run))
    assert "<th>France</th>" in page
    assert f"<td>{rows[-1][0]}</td><td>{rows[-1][1]}</td>" in page


@pytest.mark.django_db
def test_runs_can_be_deleted_with_their_points(staff_client, france_run):
    url = reverse("admin:forecasts_forecastrun_changelist")
    selection = {"action": "delete_selected", "_selected_action": [france_run.pk]}
    confirm = staff_client.post(url, selection).content.decode()
    assert str(france_run) in confirm
    assert "250 2018:" not in confirm  # points are counted, not listed one by one
    staff_client.post(url, {**selection, "post": "yes"})
    assert not ForecastRun.objects.exists()
    assert not ForecastPoint.objects.exists()
    assert Region.objects.filter(code=250).exists()


@pytest.mark.django_db
def test_run_changelist_filters_by_dataset(staff_client, france_run, small_wide_file):
    services.dataset_import(source=str(small_wide_file))
    newer = services.forecast_run_create(
        regions=[Region.objects.get(code=250)], start=2030, end=2031
    ).run
    response = staff_client.get(
        reverse("admin:forecasts_forecastrun_changelist"),
        {"dataset__id__exact": newer.dataset_id},
    )
    assert list(response.context["cl"].result_list) == [newer]
