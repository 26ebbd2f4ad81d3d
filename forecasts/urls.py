from django.urls import path

from . import views

app_name = "forecasts"

urlpatterns = [
    path("", views.home, name="home"),
    path("runs/", views.run_list, name="run_list"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("runs/<int:pk>.csv", views.run_csv, name="run_csv"),
    path("runs/<int:pk>.json", views.run_json, name="run_json"),
    path("runs/<int:pk>.svg", views.run_image, {"kind": "svg"}, name="run_svg"),
    path("runs/<int:pk>.png", views.run_image, {"kind": "png"}, name="run_png"),
    path("runs/<int:pk>/embed/", views.run_embed, name="run_embed"),
    path("regions/", views.region_list, name="region_list"),
    path("regions/<int:code>/", views.region_detail, name="region_detail"),
    path("regions/<int:code>.svg", views.region_image, {"kind": "svg"}, name="region_svg"),
    path("regions/<int:code>.png", views.region_image, {"kind": "png"}, name="region_png"),
    path("regions/<int:code>/embed/", views.region_embed, name="region_embed"),
    path("accuracy/", views.accuracy, name="accuracy"),
    path("world/", views.world, name="world"),
    path("world.csv", views.world_csv, name="world_csv"),
]
