import functools

from csp.decorators import csp_update
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from . import views

app_name = "api"


def spectacular_view(name: str, **initkwargs):
    """drf-spectacular's view ``name``, imported on its first request: drf_spectacular.views
    imports the schema generator, which costs every process's start-up 40-50 ms (see
    forecasts.api.schema.documented) for two pages few processes serve."""

    @functools.cache
    def drf_view():
        from drf_spectacular import views as spectacular_views

        return getattr(spectacular_views, name).as_view(**initkwargs)

    def view(request, *args, **kwargs):
        return drf_view()(request, *args, **kwargs)

    return csrf_exempt(view)  # as DRF's views are: they answer a POST with 405, not a CSRF 403


# No ReDoc page: its template loads fonts from Google, and no page here loads from another host.
# Swagger UI: the split view serves its start-up script from a URL instead of inline, so the page
# keeps the site's Content-Security-Policy; the one inline <style> block of drf-spectacular's
# template is allowed by its hash (a browser test fails if the template changes).
SWAGGER_UI_STYLE_HASH = "'sha256-MMpT0iDxyjALd9PdfepImGX3DBfJPXZ4IlDWdPAgtn0='"
swagger_ui = csp_update({"style-src": [SWAGGER_UI_STYLE_HASH]})(
    spectacular_view("SpectacularSwaggerSplitView", url_name="api:schema")
)

urlpatterns = [
    path("regions/", views.RegionListApi.as_view(), name="region_list"),
    path("regions/<int:code>/", views.RegionDetailApi.as_view(), name="region_detail"),
    path("regions/<int:code>/series/", views.RegionSeriesApi.as_view(), name="region_series"),
    path("forecast/", views.ForecastApi.as_view(), name="forecast"),
    path("runs/", views.RunListCreateApi.as_view(), name="run_list"),
    path("runs/<int:id>/", views.RunDetailApi.as_view(), name="run_detail"),
    path("accuracy/", views.AccuracyApi.as_view(), name="accuracy"),
    path("world/", views.WorldApi.as_view(), name="world"),
    path("datasets/", views.DatasetListApi.as_view(), name="dataset_list"),
    path("schema/", spectacular_view("SpectacularAPIView"), name="schema"),
    path("docs/", swagger_ui, name="docs"),
]
