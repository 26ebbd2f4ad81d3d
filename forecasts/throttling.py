"""Budgets of work per client: one for storing forecast runs, whichever front door asks (site
form or API), one for forecasts computed on request (GET /api/forecast/ when the cache cannot
answer).

Each run or forecast costs its client work units in proportion to its points (regions x years),
so twenty regions over 150 years cost more than two regions over ten. The units are counted per
client and budget in a fixed window, in the "shared" cache, which every worker sees (Redis in
production; the database on one machine), so a client cannot gain by landing on another worker.
Clients are told apart by their user id, else by their address: the X-Forwarded-For header is
believed only for the BEHIND_PROXY proxies the settings say sit in front of the app. The forecast
budget is what keeps cheap pages answering while one client sends the heaviest forecasts the rules
allow, each with a new level so the cache never helps: its requests are refused (429) once it has
used its share, instead of queueing in front of everyone else's.
"""

import math
import time

from django.conf import settings
from django.core.cache import caches

POINTS_PER_UNIT = 200
PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def run_cost(*, regions: int, years: int) -> int:
    """Work units of a run: one per POINTS_PER_UNIT points stored, at least one."""
    return max(1, math.ceil(regions * years / POINTS_PER_UNIT))


def run_budget_charge(request, *, regions: int, years: int) -> float | None:
    """Charge the client for a run; None when it is within its budget, else the seconds to wait.

    A refused run is not charged.
    """
    return _charge(request, "runs", settings.RUNS_RATE, run_cost(regions=regions, years=years))


def run_budget_refund(request, *, regions: int, years: int) -> None:
    """Give back what run_budget_charge charged for a run that was not stored after all (an
    identical one was, or the forecast was refused). The window is the current one, which is the
    charged one but for a charge made in the last instant of a window."""
    cost = run_cost(regions=regions, years=years)
    _, period = _rate(settings.RUNS_RATE)
    _count_up(caches["shared"], _key(request, "runs", period), -cost, period + 1)


def forecast_budget_charge(request, *, regions: int, years: int) -> float | None:
    """Charge the client for a forecast computed for it (not one the cache answered), as for a
    run but in its own budget (FORECASTS_RATE): None when within it, else the seconds to wait."""
    rate = settings.FORECASTS_RATE
    return _charge(request, "forecasts", rate, run_cost(regions=regions, years=years))


class BudgetSpent(Exception):
    """The client has used its forecast budget; ``wait`` seconds until the next window."""

    def __init__(self, wait: float):
        super().__init__(f"Too many forecasts computed; try again in {math.ceil(wait)} s.")
        self.wait = wait


def forecast_budget_guard(request, *, regions: int, years: int):
    """What a service calls just before computing a forecast the cache does not hold (its
    ``before_compute``): charges the client's forecast budget, raises BudgetSpent when spent."""

    def charge() -> None:
        wait = forecast_budget_charge(request, regions=regions, years=years)
        if wait is not None:
            raise BudgetSpent(wait)

    return charge


def world_budget_guard(request, *, data, start: int, end: int):
    """The world ranking's guard: it forecasts every region with data over the years asked, so
    it is charged as that many regions (285 × 31 years = 45 units for WPP2019, 2020-2050)."""
    regions = len(data.regions_with_data())
    return forecast_budget_guard(request, regions=regions, years=end - start + 1)


def _charge(request, budget: str, rate: str, cost: int) -> float | None:
    limit, period = _rate(rate)
    now = _now()
    window = int(now // period)
    key = _key(request, budget, period, now)
    store = caches["shared"]
    used = _count_up(store, key, cost, period + 1)
    if used > limit and used > cost:
        _count_up(store, key, -cost, period + 1)  # refused work is not charged
        return (window + 1) * period - now
    return None


def _key(request, budget: str, period: int, now: float | None = None) -> str:
    """The cache key of the client's count in the budget's window that holds ``now``."""
    window = int((_now() if now is None else now) // period)
    return f"{budget}-budget:{client_ident(request)}:{window}"


def _count_up(store, key: str, amount: int, timeout: int) -> int:
    """The window's count after adding ``amount``, atomically: two workers cannot both slip by.
    Redis does it in one round trip (popsite.cache); other caches with add() and incr()."""
    if hasattr(store, "count_up"):
        return store.count_up(key, amount, timeout)
    store.add(key, 0, timeout)
    try:
        return store.incr(key, amount)
    except ValueError:  # the entry expired between add and incr: a new window
        store.set(key, amount, timeout)
        return amount


def client_ident(request) -> str:
    """The user's id when logged in, else the client's address as the nearest trusted proxy saw it."""
    if request.user.is_authenticated:
        return f"user-{request.user.pk}"
    proxies = settings.BEHIND_PROXY
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
        if addresses:
            return addresses[-min(proxies, len(addresses))]
    return request.META.get("REMOTE_ADDR", "")


def _now() -> float:
    """The clock the budget windows are cut from (the tests hold it still inside one window)."""
    return time.time()


def _rate(text: str) -> tuple[int, int]:
    """("30/minute") -> (30, 60): units allowed per period of seconds."""
    count, _, period = text.partition("/")
    return int(count), PERIODS[period.strip().lower()]
