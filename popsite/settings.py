"""Settings for Population forecasts, read from the environment and a local ``.env`` file.

Defaults suit one machine with nothing but Python installed (SQLite, local-memory cache, DEBUG off).
``make run`` writes a git-ignored ``.env`` (a generated SECRET_KEY, DEBUG=1) for local development;
variables set in the environment win over it. Production sets DATABASE_URL (PostgreSQL), REDIS_URL,
SECRET_KEY and ALLOWED_HOSTS in the environment and has no ``.env``.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent

# The local settings file. ENV_FILE names another one, or none when set empty. Under pytest (which
# sets PYTEST_VERSION) it is not read by default, so a developer's DEBUG=1 cannot change the tests.
ENV_FILE = os.environ.get(
    "ENV_FILE", "" if "PYTEST_VERSION" in os.environ else str(BASE_DIR / ".env")
)
if ENV_FILE:
    load_dotenv(ENV_FILE, override=False)


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name, default):
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}.") from None


# The spellings of a budget's period (as DRF accepts them) -> the name forecasts.throttling reads.
RATE_PERIODS = {
    **dict.fromkeys(("s", "sec", "second", "seconds"), "second"),
    **dict.fromkeys(("m", "min", "minute", "minutes"), "minute"),
    **dict.fromkeys(("h", "hour", "hours"), "hour"),
    **dict.fromkeys(("d", "day", "days"), "day"),
}


def env_rate(name, default):
    """A budget rate "<count>/<period>" read from the environment, as "<count>/second|minute|
    hour|day" (the form forecasts.throttling reads; "100/s", "30/min" and "2/hours" are accepted).
    A value that is not such a rate stops the process at start-up with a message naming the
    variable, instead of every throttled request failing with a 500."""
    value = os.environ.get(name, "").strip() or default
    count, _, period = value.partition("/")
    unit = RATE_PERIODS.get(period.strip().lower())
    if unit is None or not count.strip().isdigit() or int(count) < 1:
        raise ImproperlyConfigured(
            f"{name} must be a rate such as 30/minute (a whole number of work units per second, "
            f"minute, hour or day), got {value!r}."
        )
    return f"{int(count)}/{unit}"


DEBUG = env_bool("DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable to a long random string, "
            "or, for local development, run `make env` (or `make run`), which writes a .env file "
            "with a generated key and DEBUG=1."
        )
    SECRET_KEY = "insecure-development-key-used-only-with-DEBUG-on"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "django_tasks",
    "django_tasks_db",
    "forecasts",
]

MIDDLEWARE = [
    "popsite.middleware.RefuseTraceMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # An /api/ URL too long for the app is a JSON 414 (forecasts.api.errors).
    "forecasts.api.errors.ApiUrlTooLongMiddleware",
    # django-csp's, but redirects go without a policy (they draw no document).
    "popsite.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A lost database connection is a clean 503 page (JSON under /api/), not a 500 with a traceback.
    "popsite.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "popsite.urls"
# Where a login lands when its ``next`` is missing or refused (Django's default is a 404 here).
LOGIN_REDIRECT_URL = "/admin/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "popsite.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The same backend with a health check that reads the socket instead of sending SELECT 1,
    # and the statements of storing a run prepared once per connection: set
    # DB_PREPARED_STATEMENTS=0 behind a pooler in transaction mode (PgBouncer), where the next
    # transaction may run on another server connection that never saw the PREPARE.
    DATABASES["default"]["ENGINE"] = "popsite.postgresql"
    DATABASES["default"]["PREPARED_STATEMENTS"] = bool(env_int("DB_PREPARED_STATEMENTS", 1))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite cannot share connections across threads well; keep its connections per request.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update(timeout=20, transaction_mode="IMMEDIATE")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# "default" holds computed answers (forecasts, calibration tables); "shared" what every worker must
# agree on (the run budget). Without Redis: process memory, and files for "shared" (every worker on
# the machine reads the same folder, and counting costs no database query). A Redis
# outage makes the site slower, not broken: popsite.cache answers misses instead of raising.
BEHIND_PROXY = env_int("BEHIND_PROXY", 0)
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    REDIS_CACHE = {"BACKEND": "popsite.cache.ResilientRedisCache", "LOCATION": REDIS_URL}
    CACHES = {
        "default": {**REDIS_CACHE, "KEY_PREFIX": "popforecast"},
        "shared": {**REDIS_CACHE, "KEY_PREFIX": "popforecast-shared"},
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": 2000},
        },
        "shared": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": os.environ.get("SHARED_CACHE_DIR", str(BASE_DIR / ".cache" / "shared")),
            "OPTIONS": {"MAX_ENTRIES": 10000},
        },
    }
# Rendered pages (forecasts/page_cache.py) are also shared between workers through Redis; without
# Redis each process keeps its own (the local-memory cache is per process anyway).
PAGE_CACHE_SHARED = env_bool("PAGE_CACHE_SHARED", bool(REDIS_URL))

# Live progress of background jobs, written by the worker and read by the admin's job page: it must
# be shared by both processes, so Redis when there is one, else files on this machine.
CACHES["progress"] = {**CACHES["shared"], "KEY_PREFIX": "popforecast-progress"}

# Background work (imports, re-runs and prunes asked for in the admin) goes through Django's tasks
# framework (the django-tasks backport) into a queue table in the same database: no other server
# on one machine. `python manage.py db_worker` runs the tasks (`make run` starts it with the site;
# Procfile: `worker`).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
USE_THOUSAND_SEPARATOR = False

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# Where downloaded WPP files are kept between imports (never committed).
WPP_CACHE_DIR = Path(os.environ.get("WPP_CACHE_DIR", BASE_DIR / ".cache" / "wpp"))
# The data `import_wpp` (and so `make run`) imports when given no source: the WPP2019 estimates
# file shipped in the repository (the original app's data; UN WPP, CC BY 3.0 IGO), so a first run
# works offline.
WPP_EMBEDDED_FILE = BASE_DIR / "fixtures" / "WPP2019_POP_F01_1_TOTAL_POPULATION_BOTH_SEXES.csv.gz"
# The current official file, which `import_wpp --official` (`make data-official`) downloads.
WPP_OFFICIAL_URL = os.environ.get(
    "WPP_OFFICIAL_URL",
    "https://population.un.org/wpp/assets/Excel%20Files/1_Indicator%20(Standard)/CSV_FILES/"
    "WPP2024_TotalPopulationBySex.csv.gz",
)

# Backtest the site's models at 10, 20 and 30 years after every import (the /accuracy/ figures).
ACCURACY_AFTER_IMPORT = env_bool("ACCURACY_AFTER_IMPORT", True)

# --- Admin data refresh -------------------------------------------------------------------------
# Uploaded WPP files wait here for the worker, which removes each after importing it. The web
# process and the worker must both reach this folder (the same machine, or a shared volume).
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
WPP_UPLOAD_DIR = Path(os.environ.get("WPP_UPLOAD_DIR", MEDIA_ROOT / "uploads"))
# The largest WPP file the admin's refresh page accepts, in bytes (default 300 MB).
WPP_UPLOAD_MAX_BYTES = env_int("WPP_UPLOAD_MAX_BYTES", 300 * 1024 * 1024)
# What a WPP file may expand to once unzipped (WPP2024 is ~250 MB): a .gz past it is refused.
WPP_MAX_UNCOMPRESSED_BYTES = env_int("WPP_MAX_UNCOMPRESSED_BYTES", 1024 * 1024 * 1024)
# Refresh by URL: the largest download, its overall deadline, and whether loopback and private
# network addresses may be downloaded from (off: an operator's URL must not reach internal hosts).
WPP_DOWNLOAD_MAX_BYTES = env_int("WPP_DOWNLOAD_MAX_BYTES", 1024 * 1024 * 1024)
WPP_DOWNLOAD_TIMEOUT_SECONDS = env_int("WPP_DOWNLOAD_TIMEOUT_SECONDS", 600)
WPP_DOWNLOAD_ALLOW_PRIVATE = env_bool("WPP_DOWNLOAD_ALLOW_PRIVATE")
# Uploads larger than this stream to a temporary file instead of memory (Django's default, 2.5 MB).
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- REST API (forecasts/api) -------------------------------------------------------------------
# Reads are open; every view states its permission, and anything that does not is staff-only.
# Creating forecast runs is open to anyone and throttled by the "runs" rate.
REST_FRAMEWORK = {
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "forecasts.api.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "forecasts.api.pagination.PageNumberPagination",
    "PAGE_SIZE": env_int("API_PAGE_SIZE", 50),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "forecasts.api.errors.exception_handler",
    # Session authentication only: no HTTP Basic, whose password checks cost each attempt 0.2 s.
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "NUM_PROXIES": BEHIND_PROXY,
}
# Storing forecast runs, from the site or the API: work units (forecasts.throttling) per client.
RUNS_RATE = env_rate("RUNS_RATE", "30/minute")
# Forecasts computed on request (GET /api/forecast/ answers the cache does not hold), same units.
FORECASTS_RATE = env_rate("FORECASTS_RATE", "600/minute")

SPECTACULAR_SETTINGS = {
    "TITLE": "Population forecasts API",
    "DESCRIPTION": (
        "UN World Population Prospects data and AutoReg population forecasts. Values are persons "
        "(unrounded numbers). Reads are open; creating a forecast run is open and rate-limited."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Attaches the views' documentation when a schema is generated, not at start-up.
    "DEFAULT_GENERATOR_CLASS": "forecasts.api.generator.SchemaGenerator",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The error answers every operation can give (JSON, one shared component) and the link from a
    # created run to reading it back (forecasts/api/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "forecasts.api.schema.postprocess",
    ],
}

# --- Production security ---------------------------------------------------------------------------
# HTTPS=1 says the site is served over HTTPS: redirect plain HTTP, send HSTS, mark cookies secure.
# Each part can be overridden on its own (e.g. SECURE_SSL_REDIRECT=0 when the proxy redirects already).
# BEHIND_PROXY=N says N proxies that overwrite X-Forwarded-For and X-Forwarded-Proto sit in front
# of gunicorn: their X-Forwarded-Proto tells HTTPS requests apart, and the client's address is
# read N entries from the right of X-Forwarded-For. 0 (the default): both headers are ignored.
HTTPS = env_bool("HTTPS")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", HTTPS)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Only the admin shows messages, to staff who are logged in and so have a session: keeping them
# there spares every other request Django's default cookie storage (a signer built per request).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# Content-Security-Policy (django-csp 4): every script, style, font and image comes from this host.
# data: images are Bootstrap's inline SVG icons (form-select arrow, navbar toggler) and the empty favicon.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
