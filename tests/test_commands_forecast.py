"""The forecast command: the original app's table, machine formats, saved runs, clear errors."""

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command

from forecasts import services
from forecasts.models import ForecastRun, Region

pytestmark = pytest.mark.django_db


def run_command(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("forecast", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_table_is_the_original_apps_for_world_and_more_developed(wpp2019_dataset):
    out, _ = run_command(
        "--region", "900", "--region", "More developed regions", "--from", "2030", "--to", "2035",
        "--method", "levels", "--lags", "1",
    )  # fmt: skip
    lines = out.splitlines()
    assert "rounded to the nearest thousand" in lines[0]
    assert lines[1].split() == ["Year", "WORLD", "More", "developed", "regions"]
    assert lines[2].split() == ["2030", "8,745,733,000", "1,304,051,000"]
    assert lines[7].split()[0] == "2035" and len(lines) == 8


def test_csv_carries_unrounded_values_and_bounds(small_dataset):
    out, _ = run_command("--region", "900", "--from", "2019", "--to", "2021", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [row["year"] for row in rows] == ["2019", "2020", "2021"]
    assert rows[0]["actual"] == "7713468000.0" and rows[2]["actual"] == ""
    expected = services.forecast_compute(
        regions=[Region.objects.get(code=900)], start=2019, end=2021
    )
    assert float(rows[2]["value"]) == expected[0].points[2].value
    assert float(rows[2]["lower"]) < float(rows[2]["value"]) < float(rows[2]["upper"])


def test_json_lists_regions_with_points(small_dataset):
    out, _ = run_command(
        "--region",
        "france",
        "--region",
        "336",
        "--from",
        "2030",
        "--to",
        "2031",
        "--format",
        "json",
    )
    data = json.loads(out)
    assert [result["region"]["name"] for result in data["results"]] == ["France", "Holy See"]
    assert data["params"] == {
        "regions": [250, 336],
        "from": 2030,
        "to": 2031,
        "method": "damped",
        "lags": 3,
        "level": 0.95,
    }
    assert data["results"][1]["points"][0]["value"] == 1000.0  # Holy See: constant, exact


def test_save_stores_a_run_and_prints_its_id(small_dataset):
    out, err = run_command("--region", "900", "--from", "2030", "--to", "2031", "--save")
    run = ForecastRun.objects.get()
    assert f"Saved forecast run {run.pk}." in err
    assert [(region["code"], region["lags"]) for region in run.regions] == [(900, 3)]
    assert run.dataset == small_dataset and run.points.count() == 2
    assert "2030" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--region", "12345"], "Unknown region(s): '12345'"),
        (["--region", "Atlantis"], "Unknown region(s): 'Atlantis'"),
        (
            ["--region", "1803"],
            "No population data (a heading, not a region): UN development groups",
        ),
        (["--region", "900", "--from", "2040", "--to", "2030"], "must not be after the end year"),
        (["--region", "900", "--from", "1900", "--to", "2030"], "between 1950 and 2100"),
        (["--region", "900", "--lags", "12"], "Lags must be a whole number from 1 to 10"),
        (["--region", "900", "--level", "1.2"], "between 0 and 1"),
        ([], "Choose at least one region"),
    ],
)
def test_bad_arguments_exit_with_status_2_and_a_message(small_dataset, args, message):
    full = [*args] + ([] if "--from" in args else ["--from", "2030", "--to", "2031"])
    with pytest.raises(CommandError) as raised:
        run_command(*full)
    assert message in str(raised.value)
    assert raised.value.returncode == 2


def test_region_too_short_for_lags_names_the_region(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text(
        "LocID,Location,Variant,Time,PopTotal\n"
        + "".join(f"7,Tiny,Medium,{year},{year - 1900}\n" for year in range(1950, 1954))
        + "7,Tiny,Low,1954,1\n"
    )
    services.dataset_import(source=str(path))
    with pytest.raises(
        CommandError, match="Tiny: The history has 4 years; lags=3 needs at least 5"
    ):
        run_command(
            "--region", "7", "--from", "1960", "--to", "1961", "--method", "levels", "--lags", "3"
        )


def test_stored_run_does_not_change_after_a_data_refresh(
    small_dataset, small_long_file, small_wide_file
):
    run = services.forecast_run_create(
        regions=[Region.objects.get(code=900)], start=2030, end=2031
    ).run
    before = list(run.points.values_list("year", "value", "lower", "upper"))
    services.dataset_import(source=str(small_long_file))
    services.dataset_import(source=str(small_wide_file))
    run.refresh_from_db()
    assert list(run.points.values_list("year", "value", "lower", "upper")) == before
    assert run.dataset == small_dataset
    assert services.forecast_run_results(run)[0].name == "WORLD"


@pytest.mark.parametrize("identifier", ["²", "9" * 30])
def test_odd_digits_are_unknown_regions_not_crashes(small_dataset, identifier):
    with pytest.raises(CommandError, match="Unknown region"):
        run_command("--region", identifier, "--from", "2030", "--to", "2031")


def test_level_too_close_to_one_is_refused(small_dataset):
    with pytest.raises(CommandError, match="at most 0.9999"):
        run_command("--region", "900", "--from", "2030", "--to", "2031", "--level", "0.99999")
