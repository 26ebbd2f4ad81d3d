from django.urls import path
from django.views.decorators.http import require_http_methods, require_safe

from . import views

app_name = "forecasts"

# The pages only read: GET and HEAD, and a POST only to the home page (its form stores a run). Any
# other method is a 405 before a view does any work (a POST to /world.csv would compute the whole
# ranking, a PROPFIND to / would render the form).
home = require_http_methods(["GET", "HEAD", "POST"])(views.home)
SVG, PNG = {"kind": "svg"}, {"kind": "png"}

urlpatterns = [
    path("", home, name="home"),
    path("runs/", require_safe(views.run_list), name="run_list"),
    path("runs/<int:pk>/", require_safe(views.run_detail), name="run_detail"),
    path("runs/<int:pk>.csv", require_safe(views.run_csv), name="run_csv"),
    path("runs/<int:pk>.json", require_safe(views.run_json), name="run_json"),
    path("runs/<int:pk>.svg", require_safe(views.run_image), SVG, name="run_svg"),
    path("runs/<int:pk>.png", require_safe(views.run_image), PNG, name="run_png"),
    path("runs/<int:pk>/embed/", require_safe(views.run_embed), name="run_embed"),
    path("regions/", require_safe(views.region_list), name="region_list"),
    path("regions/<int:code>/", require_safe(views.region_detail), name="region_detail"),
    path("regions/<int:code>.svg", require_safe(views.region_image), SVG, name="region_svg"),
    path("regions/<int:code>.png", require_safe(views.region_image), PNG, name="region_png"),
    path("regions/<int:code>/embed/", require_safe(views.region_embed), name="region_embed"),
    path("accuracy/", require_safe(views.accuracy), name="accuracy"),
    path("world/", require_safe(views.world), name="world"),
    path("world.csv", require_safe(views.world_csv), name="world_csv"),
]
