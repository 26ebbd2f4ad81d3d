"""Importing WPP files: counts, idempotence, all-or-nothing replacement, the command's output."""

import gzip
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from forecasts import services, wpp
from forecasts.models import Dataset, Region, YearlyPopulation


def snapshot():
    """Everything an import writes, comparable across imports."""
    regions = list(
        Region.objects.order_by("code").values_list(
            "code", "name", "kind", "parent_id", "iso3", "sort_order", "first_year", "last_year"
        )
    )
    values = list(
        YearlyPopulation.objects.order_by("region_id", "variant", "year").values_list(
            "region_id", "variant", "year", "persons"
        )
    )
    return regions, values


@pytest.mark.django_db
def test_import_wpp2019_counts_and_units(wpp2019_file):
    dataset = services.dataset_import(source=str(wpp2019_file))
    assert (dataset.status, dataset.is_active) == (Dataset.Status.SUCCEEDED, True)
    assert (dataset.edition, dataset.file_format) == ("WPP2019", wpp.WIDE)
    assert (dataset.region_count, dataset.value_count) == (289, 285 * 71)
    assert (dataset.first_year, dataset.last_year) == (1950, 2020)
    assert len(dataset.checksum) == 64
    world = Region.objects.get(code=900)
    assert (world.name, world.kind, world.parent_id, world.first_year, world.last_year) == (
        "WORLD",
        "World",
        None,
        1950,
        2020,
    )
    assert (
        YearlyPopulation.objects.get(region=world, variant="Estimates", year=2020).persons
        == 7_794_799_000
    )


@pytest.mark.django_db
def test_heading_rows_are_regions_without_data(small_dataset):
    heading = Region.objects.get(code=1803)
    assert heading.is_heading and not heading.has_data
    assert Region.objects.get(code=901).parent_id == 1803
    assert list(Region.objects.get(code=1803).children.values_list("code", flat=True)) == [901, 902]


@pytest.mark.django_db
def test_import_wpp2022_excerpt_splits_estimates_from_projections(wpp2022_excerpt):
    dataset = services.dataset_import(source=str(wpp2022_excerpt))
    assert (dataset.edition, dataset.last_estimate_year, dataset.value_count) == (
        "WPP2022",
        2021,
        6943,
    )
    assert dataset.variants[0] == "Estimates" and "Medium" in dataset.variants
    usa = YearlyPopulation.objects.for_region(Region.objects.get(code=1111))
    assert usa.estimates().count() == 72
    assert usa.variant("Medium").between(2022, 2100).count() == 79
    assert Region.objects.get(code=1820).last_year == 1996


@pytest.mark.django_db
@pytest.mark.parametrize("fixture_name", ["wpp2019_file", "wpp2022_excerpt"])
def test_import_is_idempotent(request, fixture_name):
    path = request.getfixturevalue(fixture_name)
    first = services.dataset_import(source=str(path))
    before = snapshot()
    second = services.dataset_import(source=str(path))
    assert snapshot() == before
    assert (second.region_count, second.value_count) == (first.region_count, first.value_count)
    assert second.checksum == first.checksum
    assert list(Dataset.objects.filter(is_active=True)) == [second]


@pytest.mark.django_db
def test_gzipped_file_imports(tmp_path, small_long_file):
    path = tmp_path / "WPP2024_TotalPopulationBySex.csv.gz"
    path.write_bytes(gzip.compress(small_long_file.read_bytes()))
    dataset = services.dataset_import(source=str(path))
    assert dataset.edition == "WPP2024"
    assert dataset.value_count == 618


@pytest.mark.django_db
def test_bad_file_changes_nothing_and_is_recorded_as_failed(
    tmp_path, small_dataset, small_long_file
):
    before = snapshot()
    text = small_long_file.read_text().splitlines()
    text[300] = text[300].replace(",Medium,", ",Medium,").rsplit(",", 2)[0] + ",oops,1"
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(text) + "\n")
    with pytest.raises(
        services.DatasetImportError, match="line 301, column 'PopTotal': 'oops'"
    ) as raised:
        services.dataset_import(source=str(bad))
    assert snapshot() == before
    failed = raised.value.dataset
    failed.refresh_from_db()
    assert failed.status == Dataset.Status.FAILED and "line 301" in failed.error
    assert Dataset.objects.get(is_active=True) == small_dataset


@pytest.mark.django_db
def test_repeated_row_is_named_and_changes_nothing(tmp_path, small_dataset, small_long_file):
    """A repeated (location, variant, year) names both lines; the data stays as it was."""
    lines = small_long_file.read_text().splitlines()
    bad = tmp_path / "dup.csv"
    bad.write_text("\n".join([*lines, lines[1]]) + "\n")
    before = snapshot()
    with pytest.raises(
        services.DatasetImportError, match="line 620: the same location, variant and year as line 2"
    ):
        services.dataset_import(source=str(bad))
    assert snapshot() == before


@pytest.mark.django_db
def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(services.DatasetImportError, match="No such file"):
        services.dataset_import(source=str(tmp_path / "nope.csv"))


@pytest.mark.django_db
def test_unsupported_url_scheme_is_a_clear_error():
    with pytest.raises(services.DatasetImportError, match="give a file path or an http"):
        services.dataset_import(source="ftp://example.org/wpp.csv")


@pytest.mark.django_db(transaction=True)
def test_second_import_is_refused_while_one_holds_the_lock(small_wide_file):
    if connection.vendor != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's; SQLite serialises writers itself")
    from django.db import connections

    holder_ready, release = threading.Event(), threading.Event()

    def hold_lock():
        with connections["default"].cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [services.datasets.IMPORT_LOCK_ID])
            holder_ready.set()
            release.wait(10)
            cursor.execute("ROLLBACK")
        connections.close_all()

    thread = threading.Thread(target=hold_lock)
    thread.start()
    holder_ready.wait(10)
    try:
        with pytest.raises(services.ImportBusyError, match="Another import is running"):
            services.dataset_import(source=str(small_wide_file))
    finally:
        release.set()
        thread.join()
    assert not Region.objects.exists()


@pytest.mark.django_db
def test_import_command_prints_a_summary(small_wide_file, capsys):
    call_command("import_wpp", str(small_wide_file), verbosity=0)
    out = capsys.readouterr().out
    assert "Imported WPP2019 (WPP2019 wide): 7 regions, 426 values, years 1950–2020" in out


@pytest.mark.django_db
def test_import_command_fails_with_the_files_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("just,some,columns\n1,2,3\n")
    with pytest.raises(CommandError, match="Import failed: line 1: Unknown header"):
        call_command("import_wpp", str(bad), verbosity=0)


@pytest.mark.django_db
def test_import_command_if_empty_skips_when_data_is_loaded(small_dataset, small_long_file, capsys):
    call_command("import_wpp", str(small_long_file), "--if-empty", verbosity=0)
    assert "already loaded" in capsys.readouterr().out
    assert Dataset.objects.get(is_active=True) == small_dataset


@pytest.mark.django_db
def test_official_import_without_network_says_how_to_pass_a_file(settings, tmp_path):
    settings.WPP_OFFICIAL_URL = "http://127.0.0.1:9/WPP2024_TotalPopulationBySex.csv.gz"
    settings.WPP_CACHE_DIR = tmp_path
    settings.WPP_DOWNLOAD_ALLOW_PRIVATE = True
    with pytest.raises(CommandError, match="pass a local WPP file instead"):
        call_command("import_wpp", "--official", verbosity=0)


@pytest.mark.django_db
def test_import_without_a_source_loads_the_embedded_wpp2019_file_offline(settings):
    settings.WPP_OFFICIAL_URL = "http://127.0.0.1:9/unreachable.csv.gz"
    call_command("import_wpp", verbosity=0)

    dataset = Dataset.objects.get(is_active=True)
    assert (dataset.edition, dataset.region_count, dataset.value_count) == ("WPP2019", 289, 20235)


@pytest.mark.django_db
def test_import_refuses_a_source_together_with_official(small_long_file):
    with pytest.raises(CommandError, match="not both") as raised:
        call_command("import_wpp", str(small_long_file), "--official", verbosity=0)
    assert raised.value.returncode == 2


@pytest.mark.django_db
def test_error_after_all_values_were_written_rolls_everything_back(
    tmp_path, small_dataset, small_long_file
):
    """An unknown parent is found only after the last chunk, when the values are already written."""
    text = small_long_file.read_text().replace(",Income group,1508,", ",Income group,4242,")
    bad = tmp_path / "orphan.csv"
    bad.write_text(text)
    before = snapshot()
    with pytest.raises(services.DatasetImportError, match="parent code 4242"):
        services.dataset_import(source=str(bad))
    assert snapshot() == before


@pytest.mark.django_db
def test_an_import_killed_earlier_is_marked_interrupted_by_the_next(small_wide_file):
    killed = Dataset.objects.create(source="killed.csv", status=Dataset.Status.RUNNING)
    services.dataset_import(source=str(small_wide_file))
    killed.refresh_from_db()
    assert killed.status == Dataset.Status.FAILED
    assert "Interrupted" in killed.error
