"""Every limit and choice of the project, defined once (no Django, no numpy).

The WPP reader, the model, the database constraints, the forms, the serializers and their OpenAPI
schema, the commands and the admin all read these, so a limit changes in one place and every front
door says the same thing about it. The check_* functions raise ForecastError with the message a
person sees; parse_lags is the one parser of "a number or auto".
"""

from dataclasses import dataclass

YEAR_MIN = 1950
YEAR_MAX = 2100
LAGS_MIN = 1
LAGS_MAX = 10
LAGS_AUTO = "auto"
MAX_REGIONS = 20
# Levels closer to 1 give intervals with infinite ends; the minimum is exclusive.
LEVEL_MIN_EXCLUSIVE = 0.0
LEVEL_MAX = 0.9999
DEFAULT_LEVEL = 0.95
HOLDOUT_MIN = 1
HOLDOUT_MAX = 50
DEFAULT_HOLDOUT = 10
# Pruning the run history: runs older than 1 day to 100 years.
PRUNE_MAX_DAYS = 36_500
# UN M49 codes have 3 digits and WPP's aggregates 4; nine digits still fit a 32-bit column.
REGION_CODE_MAX = 999_999_999
REGION_CODE_DIGITS_MAX = len(str(REGION_CODE_MAX))
NAME_MAX_LENGTH = 200
VARIANT_MAX_LENGTH = 60
KIND_MAX_LENGTH = 60
# GET /api/forecast/?regions=...: at most MAX_REGIONS comma-separated identifiers in this many
# characters (20 codes or ISO3 codes fit easily; for long names use codes, or POST /api/runs/).
REGIONS_QUERY_MAX_LENGTH = 300
# The longest /api/ URL (path and query string) the app answers; longer ones get a 414. gunicorn
# (gunicorn.conf.py) lets request lines up to 8190 bytes through so that the app answers them.
API_URL_MAX_BYTES = 8000
ESTIMATES = "Estimates"
MEDIUM = "Medium"
# Rows of this kind are headings of the hierarchy: regions without data, not offered to forecast.
HEADING_KINDS = frozenset({"Label/Separator"})

# The world page: WPP2019 calls countries "Country/Area"; long files may leave the kind empty, and
# then a region with an ISO3 code is a country.
COUNTRY_KIND = "Country/Area"
WORLD_DEFAULT_END_YEAR = 2050
WORLD_VIEW_CHANGE = "change"
WORLD_VIEW_DISAGREEMENT = "disagreement"
WORLD_VIEWS = {
    WORLD_VIEW_CHANGE: "Forecast change",
    WORLD_VIEW_DISAGREEMENT: "This model against the UN",
}
# Sort keys of the world ranking and the column each orders by.
WORLD_SORTS = {
    "name": "Country",
    "from": "Population in the first year",
    "to": "Population in the last year",
    "change": "Change (%)",
    "un": "UN Medium",
    "difference": "Difference from the UN (%)",
}
WORLD_DIRECTIONS = ("asc", "desc")


class ForecastError(ValueError):
    """A forecast that cannot be made: settings outside these rules, or a series the model cannot
    fit. The message says why, in words meant for the person who asked."""


@dataclass(frozen=True)
class Method:
    """What the AR(p) model is fitted to: the population, its logarithm (``log``), then
    ``differences`` times differenced; the forecast is turned back into persons."""

    name: str
    log: bool
    differences: int
    label: str


METHODS = {
    method.name: method
    for method in [
        Method("levels", False, 0, "AutoReg on the population itself (the original app's model)"),
        Method("log", True, 0, "AutoReg on the logarithm of the population"),
        Method("diff", False, 1, "AutoReg on the yearly change in persons, added back up"),
        Method("growth", True, 1, "AutoReg on the yearly growth rate, compounded back"),
        Method(
            "diff2",
            False,
            2,
            "AutoReg on the change of the yearly change in persons, added back up twice",
        ),
        Method(
            "growth2",
            True,
            2,
            "AutoReg on the change of the yearly growth rate, compounded back twice",
        ),
        Method(
            "damped",
            True,
            2,
            "Damped growth: AR(3) on the change of the yearly growth rate, blended with the "
            "recent median growth and pulled towards zero; positive to 2100",
        ),
    ]
}
DAMPED_METHOD = "damped"
ORIGINAL_METHOD = "levels"
ORIGINAL_LAGS = 1
# The default: positive by construction, never explosive, calibrated at every horizon to 2100, and
# ahead of the statsforecast peers at 10, 20 and 30 years (benchmarks/bench_accuracy.py). Its AR
# order is fixed at 3; lags apply to the AutoReg methods.
DEFAULT_METHOD = DAMPED_METHOD
DEFAULT_LAGS = 3


# The accuracy the site reports: both models of the site backtested at these horizons, after
# every import.
ACCURACY_HOLDOUTS = (10, 20, 30)
SITE_MODELS = ((DEFAULT_METHOD, DEFAULT_LAGS), (ORIGINAL_METHOD, ORIGINAL_LAGS))


def method_label(name: str) -> str:
    """The method's description as the form, the API schema and the command help show it."""
    label = METHODS[name].label
    if name == DEFAULT_METHOD:
        return f"{label} (recommended)"
    return label


def methods_help() -> str:
    """Every method in one line, for help texts."""
    return "; ".join(f"{name}: {method_label(name)}" for name in METHODS)


def is_original_model(method: str, lags: int | str) -> bool:
    return method == ORIGINAL_METHOD and lags == ORIGINAL_LAGS


def check_span(start: int, end: int) -> None:
    """Raise ForecastError unless [start, end] is an ordered span inside the supported years."""
    for name, year in (("start", start), ("end", end)):
        check_year(year, name=name)
    if start > end:
        raise ForecastError(f"The start year ({start}) must not be after the end year ({end}).")


def check_recorded_start(start: int, first_recorded: int) -> None:
    """A change is measured from a population that exists: recorded, or forecast after it."""
    if start < first_recorded:
        raise ForecastError(
            f"The start year must not be before the first recorded year ({first_recorded}); "
            f"got {start}."
        )


def check_year(year: int, *, name: str) -> None:
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise ForecastError(
            f"The {name} year must be between {YEAR_MIN} and {YEAR_MAX}; got {year}."
        )


def check_lags(lags: int | str) -> None:
    """A whole number of lags in range, or LAGS_AUTO (choose p per series by AIC)."""
    if lags == LAGS_AUTO:
        return
    if isinstance(lags, bool) or not isinstance(lags, int) or not LAGS_MIN <= lags <= LAGS_MAX:
        raise ForecastError(f"{LAGS_MESSAGE}; got {lags!r}.")


LAGS_MESSAGE = f'Lags must be a whole number from {LAGS_MIN} to {LAGS_MAX}, or "{LAGS_AUTO}"'


def parse_lags(value) -> int | str:
    """The lags a person typed ("3", " AUTO ", 3) as a number or LAGS_AUTO; ForecastError if not."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text == LAGS_AUTO:
            return LAGS_AUTO
        if text.isascii() and text.isdecimal() and len(text) <= 6:
            value = int(text)
    check_lags(value)
    return value


def check_level(level: float) -> None:
    if not LEVEL_MIN_EXCLUSIVE < level <= LEVEL_MAX:
        raise ForecastError(
            f"The interval level must be between {LEVEL_MIN_EXCLUSIVE:g} and 1 (for example 0.95), "
            f"at most {LEVEL_MAX:g}; got {level}."
        )


def check_method(method: str) -> None:
    if method not in METHODS:
        raise ForecastError(f"The method must be one of {', '.join(METHODS)}; got {method!r}.")


def check_holdout(holdout: int) -> None:
    if not HOLDOUT_MIN <= holdout <= HOLDOUT_MAX:
        raise ForecastError(
            f"The holdout must be a whole number of years from {HOLDOUT_MIN} to {HOLDOUT_MAX}; "
            f"got {holdout}."
        )


def check_region_count(count: int) -> None:
    if count < 1:
        raise ForecastError("Choose at least one region.")
    if count > MAX_REGIONS:
        raise ForecastError(f"Choose at most {MAX_REGIONS} regions; {count} were given.")


def region_code_or_none(text: str) -> int | None:
    """The region code ``text`` spells (ASCII digits, at most REGION_CODE_DIGITS_MAX), else None.

    str.isdigit() also accepts characters such as "²" that int() refuses, and longer numbers
    overflow the database's integer column; both are simply not codes.
    """
    text = str(text).strip()
    if text.isascii() and text.isdecimal() and len(text) <= REGION_CODE_DIGITS_MAX:
        return int(text)
    return None
