"""The HTML site: thin views that validate with a form, call one service or selector, and render;
one module per page group."""

from .accuracy import accuracy
from .forecast import home
from .regions import region_detail, region_embed, region_image, region_list
from .runs import run_csv, run_detail, run_embed, run_image, run_json, run_list
from .world import world, world_csv

__all__ = [
    "accuracy",
    "home",
    "region_detail",
    "region_embed",
    "region_image",
    "region_list",
    "run_csv",
    "run_detail",
    "run_embed",
    "run_image",
    "run_json",
    "run_list",
    "world",
    "world_csv",
]
