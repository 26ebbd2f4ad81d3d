"""Runs are found by one indexed settings key (ForecastRun.settings_key_of); stored runs get theirs."""

import hashlib

from django.db import migrations, models


def settings_key(run) -> str:
    """ForecastRun.settings_key_of as of this migration (a migration keeps its own copy)."""
    regions = ",".join(str(int(region["code"])) for region in run.regions)
    lags = "auto" if run.lags is None else int(run.lags)
    text = f"{regions}|{run.start_year}|{run.end_year}|{run.method}|{lags}|{float(run.level)!r}"
    return hashlib.sha256(text.encode()).hexdigest()


def fill_settings_keys(apps, schema_editor):
    ForecastRun = apps.get_model("forecasts", "ForecastRun")
    runs = ForecastRun.objects.only("regions", "start_year", "end_year", "method", "lags", "level")
    batch = []
    for run in runs.iterator(chunk_size=2000):
        run.settings_key = settings_key(run)
        batch.append(run)
        if len(batch) == 2000:
            ForecastRun.objects.bulk_update(batch, ["settings_key"])
            batch = []
    ForecastRun.objects.bulk_update(batch, ["settings_key"])


class Migration(migrations.Migration):
    dependencies = [
        ("forecasts", "0009_run_settings_index"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="forecastrun",
            name="run_settings",
        ),
        migrations.AddField(
            model_name="forecastrun",
            name="settings_key",
            field=models.CharField(default="", editable=False, max_length=64),
        ),
        migrations.RunPython(fill_settings_keys, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="forecastrun",
            index=models.Index(fields=["dataset", "settings_key"], name="run_settings_key"),
        ),
    ]
