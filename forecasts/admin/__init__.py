"""The admin: data refresh and import history, regions and values (read-only), forecast runs.

Data comes from WPP files and is never edited by hand here; an operator refreshes it, looks after
the run history (re-run on current data, delete, prune with the ``prune_runs`` command).
"""

from django.contrib import admin

from . import datasets, regions, runs  # noqa: F401 - each registers its models

admin.site.site_header = "Population forecasts administration"
admin.site.site_title = "Population forecasts admin"
admin.site.index_title = "Data, import history and forecast runs"
