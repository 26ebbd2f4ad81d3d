"""Points are indexed by (region_code, run) instead of region_code alone: the same lookups by
region, and a region's newest run is one step down the index (the region page's cache key names
it, so that runs of other regions leave the page in the cache). The new index is built before the
old one goes."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("forecasts", "0013_run_budget_use"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="forecastpoint",
            index=models.Index(fields=["region_code", "run"], name="point_region_run"),
        ),
        migrations.AlterField(
            model_name="forecastpoint",
            name="region_code",
            field=models.PositiveIntegerField(),
        ),
    ]
