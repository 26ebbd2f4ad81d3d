from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import views

app_name = "api"

# No ReDoc page: its template loads fonts from Google, and no page here loads from another host.

urlpatterns = [
    path("regions/", views.RegionListApi.as_view(), name="region_list"),
    path("regions/<int:code>/", views.RegionDetailApi.as_view(), name="region_detail"),
    path("regions/<int:code>/series/", views.RegionSeriesApi.as_view(), name="region_series"),
    path("forecast/", views.ForecastApi.as_view(), name="forecast"),
    path("runs/", views.RunListApi.as_view(), name="run_list"),
    path("runs/<int:id>/", views.RunDetailApi.as_view(), name="run_detail"),
    path("datasets/", views.DatasetListApi.as_view(), name="dataset_list"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]
