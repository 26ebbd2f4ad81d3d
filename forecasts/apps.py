from django.apps import AppConfig


class ForecastsConfig(AppConfig):
    name = "forecasts"
    verbose_name = "Population forecasts"

    def ready(self):
        from . import tasks  # noqa: F401 - registers the background tasks with services.jobs
