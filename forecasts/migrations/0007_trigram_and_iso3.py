"""Typo-tolerant region search on PostgreSQL (pg_trgm for TrigramSimilarity), and ISO3 codes for
the countries of data imported before they were derived from the UN M49 code.

TrigramExtension (Django's CreateExtension) does nothing on other databases; SQLite falls back
to difflib in forecasts.search.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations


def fill_iso3(apps, schema_editor):
    from forecasts.search import iso3_for

    Region = apps.get_model("forecasts", "Region")
    for region in Region.objects.filter(iso3=""):
        iso3 = iso3_for(region.code, region.kind)
        if iso3:
            region.iso3 = iso3
            region.save(update_fields=["iso3"])


class Migration(migrations.Migration):
    dependencies = [("forecasts", "0006_jobs")]

    operations = [
        TrigramExtension(),
        migrations.RunPython(fill_iso3, migrations.RunPython.noop),
    ]
