"""Settings shared by every environment.

Everything comes from environment variables whose defaults give the embedded mode: one process,
SQLite, an in-memory broker and channel layer, no outside service. Setting both ``DATABASE_URL``
and ``REDIS_URL`` switches to the services mode (Postgres, Redis, separate worker processes).
``.env.example`` documents every variable read here.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if not value:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def env_int(name: str, default: int) -> int:
    value = env(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


# --- Run mode -------------------------------------------------------------------------------

DATABASE_URL = env("DATABASE_URL")
REDIS_URL = env("REDIS_URL")

if DATABASE_URL and not REDIS_URL:
    raise ImproperlyConfigured(
        "DATABASE_URL is set but REDIS_URL is not: the services mode needs both "
        "(unset DATABASE_URL to run in the embedded mode)."
    )
if REDIS_URL and not DATABASE_URL:
    raise ImproperlyConfigured(
        "REDIS_URL is set but DATABASE_URL is not: the services mode needs both "
        "(unset REDIS_URL to run in the embedded mode)."
    )

#: True when Postgres and Redis carry the ledger, the broker and the channel layer; False for the
#: single-process embedded mode.
SERVICES_MODE = bool(DATABASE_URL and REDIS_URL)
RUN_MODE = "services" if SERVICES_MODE else "embedded"

DATA_DIR = Path(env("FLOWDECK_DATA_DIR") or BASE_DIR / "var")

# --- Core -----------------------------------------------------------------------------------

SECRET_KEY = env("SECRET_KEY")
DEBUG = False
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "channels",
    "accounts",
    "workflows",
    "executions",
    "agents",
    "triggers",
    "integrations",
    "ops",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.ApiErrorMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "config.middleware.FlowdeckCommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

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

# --- Database -------------------------------------------------------------------------------

if SERVICES_MODE:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60), conn_health_checks=True
        )
    }
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env("SQLITE_PATH") or str(DATA_DIR / "flowdeck.sqlite3"),
            "OPTIONS": {
                # IMMEDIATE takes the write lock when a transaction begins, so concurrent writers
                # queue on busy_timeout instead of failing with "database is locked" on upgrade;
                # this is what serialises writers in the embedded mode, where select_for_update
                # is a no-op.
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                ),
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, broker, channel layer -----------------------------------------------------------

if SERVICES_MODE:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "flowdeck",
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            # The pub/sub layer delivers every message to every subscriber without per-channel
            # capacity limits; the default Redis layer silently drops bursts beyond `capacity`.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 10_000}}
    }

CELERY_BROKER_URL = REDIS_URL if SERVICES_MODE else "memory://localhost/"
CELERY_BROKER_TRANSPORT_OPTIONS = {} if SERVICES_MODE else {"polling_interval": 0.01}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# A message is acknowledged only after its task ran, and requeued if the worker dies mid-task:
# Postgres, not the broker, decides whether the work still needs doing (claims and leases).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "UTC"

CELERY_TASK_DEFAULT_QUEUE = "flowdeck.control"
# Control work (advancing runs, timers, the sweep) and node execution have their own queues, so a
# deployment can give control work dedicated workers; a plain `celery worker` consumes both.
CELERY_TASK_QUEUES: dict[str, dict[str, str]] = {"flowdeck.control": {}, "flowdeck.nodes": {}}

# --- Engine -----------------------------------------------------------------------------------

#: Lease of a dispatched attempt without timeout_s; the lease is timeout_s (or this) + the grace.
ENGINE_DEFAULT_LEASE_S = env_int("ENGINE_DEFAULT_LEASE_S", 300)
ENGINE_LEASE_GRACE_S = env_int("ENGINE_LEASE_GRACE_S", 30)
#: Queued attempts and idle runs older than this are re-sent / re-advanced by the sweep.
ENGINE_STALE_AFTER_S = env_int("ENGINE_STALE_AFTER_S", 30)
#: How often the sweep runs: celery beat in the services mode, a thread in the embedded mode.
SWEEP_INTERVAL_S = float(env("SWEEP_INTERVAL_S", "5" if SERVICES_MODE else "1"))
CELERY_BEAT_SCHEDULE = {
    "sweep": {
        "task": "flowdeck.sweep",
        "schedule": SWEEP_INTERVAL_S,
        "options": {"expires": SWEEP_INTERVAL_S},
    },
    "tick-schedules": {
        "task": "flowdeck.tick_schedules",
        "schedule": SWEEP_INTERVAL_S,
        "options": {"expires": SWEEP_INTERVAL_S},
    },
}
#: Largest webhook body (`/hooks/<token>/`) in bytes; larger deliveries get 413.
TRIGGER_WEBHOOK_MAX_BODY_BYTES = env_int("TRIGGER_WEBHOOK_MAX_BODY_BYTES", 256 * 1024)
#: How long a claim on an approval holds before others may decide again (DESIGN §5).
APPROVAL_CLAIM_TTL_S = env_int("APPROVAL_CLAIM_TTL_S", 3600)
#: Where links in e-mails point: the address users reach this server at.
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
#: Encrypts stored provider secrets; derived from SECRET_KEY when empty (set it to rotate SECRET_KEY
#: without losing stored secrets).
FLOWDECK_ENCRYPTION_KEY = env("FLOWDECK_ENCRYPTION_KEY")
#: An external agent counts as alive this many seconds after its last heartbeat.
EXTERNAL_AGENT_ALIVE_S = env_int("EXTERNAL_AGENT_ALIVE_S", 90)
#: Hosts, *.domains, addresses and CIDR blocks the egress guard lets `http` nodes reach although
#: they are private (comma-separated; admins can add more in the admin's egress allowlist).
FLOWDECK_EGRESS_ALLOW = env_list("FLOWDECK_EGRESS_ALLOW")
#: How deep sub-workflow runs may nest (a run started by a `subworkflow` node is one deeper).
SUBWORKFLOW_MAX_DEPTH = env_int("SUBWORKFLOW_MAX_DEPTH", 5)
#: Registers the `noop` node type (a dispatched node calling nothing); test and bench settings only.
FLOWDECK_TEST_NODE_TYPES = False

#: Worker threads started inside the server process in the embedded mode.
EMBEDDED_WORKER_CONCURRENCY = env_int("EMBEDDED_WORKER_CONCURRENCY", 4)

# --- Auth -----------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# --- Static files ---------------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = Path(env("STATIC_ROOT") or DATA_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True

# --- Internationalisation -------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- API ------------------------------------------------------------------------------------

#: Largest request body the API accepts; larger ones get 413 before being parsed.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 2 * 1024 * 1024)
#: Deepest JSON nesting the API parses; deeper documents get 400.
API_MAX_JSON_DEPTH = 64
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES

REST_FRAMEWORK = {
    # Bearer first: an unauthenticated API request then gets 401 with WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["config.api.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"token_issue": env("TOKEN_ISSUE_RATE", "10/min")},
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Flowdeck API",
    "DESCRIPTION": (
        "Build, version and run AI workflows. Authenticate with `Authorization: Bearer <token>` "
        "(issue one at `POST /api/auth/token/`) or with the browser session and its CSRF token."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/",
    "ENUM_NAME_OVERRIDES": {},
}

# --- Product limits -------------------------------------------------------------------------

#: How long a bearer token issued without `expires_in_s` lives; 0 means no expiry.
API_TOKEN_DEFAULT_TTL_S = env_int("API_TOKEN_DEFAULT_TTL_S", 0)
RUN_RETENTION_DAYS = env_int("RUN_RETENTION_DAYS", 90)

# --- Logging --------------------------------------------------------------------------------

LOG_LEVEL = env("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "celery": {"level": "WARNING"},
        "kombu": {"level": "WARNING"},
    },
}

#: When set, `/metrics` needs `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_TOKEN = env("METRICS_TOKEN")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Flowdeck <flowdeck@localhost>")
SPECTACULAR_SETTINGS.update(
    {"SWAGGER_UI_DIST": "SIDECAR", "SWAGGER_UI_FAVICON_HREF": "SIDECAR", "REDOC_DIST": "SIDECAR"}
)
INSTALLED_APPS.append("drf_spectacular_sidecar")
