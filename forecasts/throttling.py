"""Budgets of work per client: one for storing forecast runs, whichever front door asks (site
form or API), one for forecasts computed on request (GET /api/forecast/ when the cache cannot
answer).

Each run or forecast costs its client work units in proportion to its points (regions x years),
so twenty regions over 150 years cost more than two regions over ten. The units are counted per
client and budget in a fixed window, where every worker sees them, so a client cannot gain by
landing on another worker: the run budget on PostgreSQL in the statement that stores a run
(RunBudget), the forecast budget, and the run budget on other databases, in the "shared" cache
(Redis in production; files on one machine).
Clients are told apart by their user id, else by their address: the X-Forwarded-For header is
believed only for the BEHIND_PROXY proxies the settings say sit in front of the app. The forecast
budget is what keeps cheap pages answering while one client sends the heaviest forecasts the rules
allow, each with a new level so the cache never helps: its requests are refused (429) once it has
used its share, instead of queueing in front of everyone else's.
"""

import functools
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.utils.crypto import salted_hmac

POINTS_PER_UNIT = 200
PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def run_cost(*, regions: int, years: int) -> int:
    """Work units of a run: one per POINTS_PER_UNIT points stored, at least one."""
    return max(1, math.ceil(regions * years / POINTS_PER_UNIT))


class BudgetSpent(Exception):
    """The client has used its forecast budget; ``wait`` seconds until the next window."""

    done = "computed"

    def __init__(self, wait: float):
        super().__init__(f"Too many forecasts {self.done}; try again in {math.ceil(wait)} s.")
        self.wait = wait


class RunBudgetSpent(BudgetSpent):
    """The client has used its run budget; ``wait`` seconds until the next window."""

    done = "stored from here"


@dataclass(frozen=True)
class RunBudget:
    """A client's charge for one run: ``cost`` units of its run budget in the window that holds
    ``now``. The store charges it when, and only when, it stores a new run (services.runs): on
    PostgreSQL inside the statement that stores the run (models.RunBudgetUse), so the budget
    costs no round trip of its own (with its Redis round trip the form ran 553 and 497 req/s,
    without any budget 627 and 725, README); elsewhere in the shared cache
    (``charge_in_cache``). Opening a run already stored, or a forecast that is refused, charges
    nothing.

    Because the forecast is computed before the store charges it, a refusal is remembered by
    each process for the rest of its window (``known_spent``): a client past its budget does not
    get a forecast computed for every run it is refused.
    """

    client: str
    window_start: int
    period: int
    limit: int
    cost: int
    now: float

    @property
    def wait(self) -> float:
        """Seconds until the next window."""
        return self.window_start + self.period - self.now

    def spent(self) -> "RunBudgetSpent":
        """The refusal to raise; this process remembers it for the rest of the window."""
        _refusals.note(self)
        return RunBudgetSpent(self.wait)

    def known_spent(self) -> bool:
        """Whether this process already saw the client refused a run costing no more than this
        one in this window: counts only grow within a window, so this one would be refused too."""
        return _refusals.covers(self)

    def charge_in_cache(self) -> bool:
        """Charge the run in the shared cache (databases other than PostgreSQL): whether it
        was within the budget. A refused run is not charged."""
        store = caches["shared"]
        return _charge_count(store, self.cache_key, self.cost, self.limit, self.period) is None

    @property
    def cache_key(self) -> str:
        """Where ``charge_in_cache`` counts the client's units of this window."""
        return f"runs-budget:{self.client}:{self.window_start}"


class _Refusals:
    """The smallest cost refused to each client in the current window (RunBudget.known_spent);
    forgotten when a new window begins, so it holds at most one window's clients."""

    def __init__(self):
        self.window_start: int | None = None
        self.costs: dict[tuple[str, int], int] = {}

    def note(self, budget: RunBudget) -> None:
        if budget.window_start != self.window_start:
            self.window_start, self.costs = budget.window_start, {}
        key = (budget.client, budget.limit)
        self.costs[key] = min(budget.cost, self.costs.get(key, budget.cost))

    def covers(self, budget: RunBudget) -> bool:
        if budget.window_start != self.window_start:
            return False
        refused = self.costs.get((budget.client, budget.limit))
        return refused is not None and budget.cost >= refused

    def clear(self) -> None:
        self.window_start, self.costs = None, {}


_refusals = _Refusals()


def forget_refusals() -> None:
    """Forget the refusals this process remembers (RunBudget.known_spent): for tests, whose
    database, holding the counts, is rolled back under them."""
    _refusals.clear()


def run_budget(request, *, regions: int, years: int) -> RunBudget:
    """What storing a run of ``regions`` x ``years`` would charge the client (RunBudget)."""
    limit, period = _rate(settings.RUNS_RATE)
    now = _now()
    window_start = int(now // period) * period
    cost = run_cost(regions=regions, years=years)
    return RunBudget(_client_key(request), window_start, period, limit, cost, now)


def forecast_budget_charge(request, *, regions: int, years: int) -> float | None:
    """Charge the client for a forecast computed for it (not one the cache answered), as for a
    run but in its own budget (FORECASTS_RATE): None when within it, else the seconds to wait."""
    rate = settings.FORECASTS_RATE
    return _charge(request, "forecasts", rate, run_cost(regions=regions, years=years))


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
    key = f"{budget}-budget:{_client_key(request)}:{window}"
    if _charge_count(caches["shared"], key, cost, limit, period) is None:
        return None
    return (window + 1) * period - now


def _charge_count(store, key: str, cost: int, limit: int, period: int) -> int | None:
    """Add ``cost`` to the count at ``key``: None when it stays within ``limit`` (or the window
    was empty: one run dearer than the whole budget still goes through, alone), else the count
    that refused it, which is taken back (refused work is not charged)."""
    used = _count_up(store, key, cost, period + 1)
    if used > limit and used > cost:
        _count_up(store, key, -cost, period + 1)
        return used
    return None


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


def _client_key(request) -> str:
    """How the budgets' counts name a client: a keyed hash of ``client_ident``, so that neither
    the database nor the cache keeps anyone's address."""
    return _hashed_ident(client_ident(request), settings.SECRET_KEY)


@functools.lru_cache(maxsize=4096)
def _hashed_ident(ident: str, secret: str) -> str:
    """``ident``'s keyed hash, remembered for the clients seen lately: a client sends many
    requests, and salted_hmac derives its key from the secret anew on every call (1.4% of the
    web worker's time under a load of form POSTs, py-spy)."""
    return salted_hmac(__name__, ident, secret=secret, algorithm="sha256").hexdigest()[:32]


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
