from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("forecasts.api.urls")),
    path("", include("forecasts.urls")),
]

# JSON under /api/, the site's pages elsewhere.
handler400 = "forecasts.api.errors.bad_request"
handler403 = "forecasts.api.errors.permission_denied"
handler404 = "forecasts.api.errors.page_not_found"
handler500 = "forecasts.api.errors.server_error"
