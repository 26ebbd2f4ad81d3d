"""Points lose their own index on the run: the unique (run, region_code, year) serves it."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("forecasts", "0010_run_settings_key"),
    ]

    operations = [
        migrations.AlterField(
            model_name="forecastpoint",
            name="run",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="points",
                to="forecasts.forecastrun",
            ),
        ),
    ]
