"""Rendered pages kept in each process's memory, keyed by what they are drawn from.

The site's pages (home, a region, a run, the run list, accuracy) change only when the data
generation changes (an import or a backtest) or a run is stored or deleted, yet rendering them
costs 10-100 ms (the home page's 285-option region select alone is most of it). So each process
keeps the HTML it rendered, keyed by the page, its parameters, the data generation and the
newest run id (a region's page: the newest run that includes the region), and answers later
requests with it.

- A refresh changes the generation, which is part of every key: the next request renders anew.
- Entries also expire after PAGE_SECONDS, which bounds what a key cannot see: a deleted run that
  is not the newest, and relative times ("3 minutes ago").
- The CSRF token is not cached: pages are rendered with CSRF_PLACEHOLDER in its place and each
  response gets the request's own token (which also sets the csrftoken cookie, as rendering did).
- Signed-in users get pages rendered for them, never a cached one nor one put in the cache.
- Memory is bounded (MAX_BYTES, least recently used first out).
- With Redis (PAGE_CACHE_SHARED), a page one worker rendered is also put there, so the other
  workers answer it without rendering it again: with N workers a page is drawn once, not N times.
  Redis being down is a miss (popsite/cache.py), never an error.

API answers that are pure functions of the data and the query string (a forecast) are kept the
same way by ``cached_answer``, in a store of their own (so a stream of varied questions cannot
push the pages out) and in this process only: their documents are already shared through the
cache by the services, and asking Redis for bytes too would cost every new question a round trip.
"""

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.middleware.csrf import get_token

from . import selectors
from .models import ForecastRun

PAGE_SECONDS = 60
MAX_BYTES = 32 * 1024 * 1024
# Rendered in place of the CSRF token (letters only: it survives HTML escaping unchanged).
CSRF_PLACEHOLDER = "csrftokenplaceholderQx7kVb2Zr9Wm"
_PLACEHOLDER_BYTES = CSRF_PLACEHOLDER.encode()


class _Store:
    """A least-recently-used map of key -> (expiry, body, content type), bounded in bytes."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.size = 0
        self.entries: OrderedDict = OrderedDict()

    def get(self, key):
        entry = self.entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self.pop(key)
            return None
        self.entries.move_to_end(key)
        return entry

    def put(self, key, body: bytes, content_type: str, seconds: float) -> None:
        if len(body) > self.max_bytes // 4:
            return
        self.pop(key)
        self.entries[key] = (time.monotonic() + seconds, body, content_type)
        self.size += len(body)
        while self.size > self.max_bytes:
            self.pop(next(iter(self.entries)))

    def pop(self, key) -> None:
        entry = self.entries.pop(key, None)
        if entry is not None:
            self.size -= len(entry[1])

    def clear(self) -> None:
        self.entries.clear()
        self.size = 0


_store = _Store(MAX_BYTES)
ANSWER_BYTES = 16 * 1024 * 1024
_answers = _Store(ANSWER_BYTES)


def clear() -> None:
    """Forget every page and answer of this process (tests; nothing else needs it: keys carry
    versions)."""
    _store.clear()
    _answers.clear()


def newest_run_id(*, region_code: int | None = None) -> int:
    """The id of the newest stored run (0 without runs), or of the newest that includes
    ``region_code``: one index lookup, part of the keys of the pages that list runs, so a new
    run shows at once. A region's page names its own newest run, so that runs of other regions,
    which the site's form stores all the time, leave it in the cache."""
    if region_code is None:
        return ForecastRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    return selectors.region_run_ids(region_code=region_code).first() or 0


def cached_page(
    request, key: tuple, render: Callable[[], HttpResponse], *, seconds: float = PAGE_SECONDS
) -> HttpResponse:
    """The page ``render`` draws for ``key``, from this process's memory when it has it.

    ``render`` must put CSRF_PLACEHOLDER where the token goes (context ``csrf_token``); it is
    replaced here by the request's token on every answer, cached or not.
    """
    if request.user.is_authenticated:
        return _with_token(request, render())
    entry = _store.get(key) or _shared_get(key, seconds)
    if entry is None:
        response = render()
        if response.status_code == 200 and not response.streaming and not response.cookies:
            _store.put(key, response.content, response["Content-Type"], seconds)
            _shared_put(key, response.content, response["Content-Type"], seconds)
        return _with_token(request, response)
    _, body, content_type = entry
    return _with_token(request, HttpResponse(body, content_type=content_type))


def cached_answer(
    request, key: tuple, render: Callable[[], HttpResponse], *, seconds: float = PAGE_SECONDS
) -> HttpResponse:
    """The answer ``render`` gives for ``key`` (which must name the data generation and everything
    the answer depends on), from this process's memory when it has it. Only successful answers
    are kept; an error ``render`` raises or returns is answered and forgotten. Signed-in users
    get theirs rendered for them, as with pages."""
    if request.user.is_authenticated:
        return render()
    entry = _answers.get(key)
    if entry is None:
        response = render()
        if response.status_code == 200 and not response.streaming and not response.cookies:
            _answers.put(key, response.content, response["Content-Type"], seconds)
        return response
    _, body, content_type = entry
    return HttpResponse(body, content_type=content_type)


def _shared_key(key: tuple) -> str:
    return "page:" + hashlib.sha256(repr(key).encode()).hexdigest()


def _shared_get(key: tuple, seconds: float):
    """The page another worker put in the shared cache, kept in this process's memory too."""
    if not settings.PAGE_CACHE_SHARED:
        return None
    found = cache.get(_shared_key(key))
    if found is None:
        return None
    body, content_type = found
    _store.put(key, body, content_type, seconds)
    return (None, body, content_type)


def _shared_put(key: tuple, body: bytes, content_type: str, seconds: float) -> None:
    if settings.PAGE_CACHE_SHARED and len(body) <= MAX_BYTES // 4:
        cache.set(_shared_key(key), (body, content_type), seconds)


def _with_token(request, response: HttpResponse) -> HttpResponse:
    if not response.streaming and _PLACEHOLDER_BYTES in response.content:
        response.content = response.content.replace(_PLACEHOLDER_BYTES, get_token(request).encode())
    return response
