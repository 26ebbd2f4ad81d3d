"""Backtests name the version of the model they measured: figures of an earlier version are
recomputed (`backtest --site --if-outdated`), not shown as the current model's."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("forecasts", "0011_point_run_index_in_unique"),
    ]

    operations = [
        migrations.AddField(
            model_name="backtestrun",
            name="model_version",
            field=models.PositiveSmallIntegerField(
                blank=True,
                help_text="Version of the method's arithmetic that was backtested (empty: before "
                "versions were recorded)",
                null=True,
            ),
        ),
    ]
