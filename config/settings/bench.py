"""The benchmarks (`make bench`): the services mode, configured like production, plus what the
benchmarks themselves need (the `noop` node type and the baseline Celery tasks).

Only the services mode is measured (DESIGN §10), so this module refuses to load without
DATABASE_URL and REDIS_URL; `bench/stack.py` sets both for every process it starts.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import LOGGING, REDIS_URL, SERVICES_MODE

if not SERVICES_MODE:
    raise ImproperlyConfigured(
        "config.settings.bench measures the services mode: set DATABASE_URL and REDIS_URL "
        "(`python -m bench` starts the services and sets both for every process it runs)."
    )

SECRET_KEY = "bench-only-secret-key-never-used-outside-the-benchmarks-0123456789"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

#: `noop` stands in for `prompt` (an instantly answering provider) until that node type lands.
FLOWDECK_TEST_NODE_TYPES = True

CELERY_IMPORTS = ["bench.celery_tasks"]
# The product keeps results off (CELERY_TASK_IGNORE_RESULT stays True); a Celery chord needs a
# result backend, so one is configured here and only the chord baseline's header tasks, which
# declare `ignore_result=False`, store anything in it.
CELERY_RESULT_BACKEND = REDIS_URL  # type: ignore[assignment]  # None in base: results off
CELERY_RESULT_EXPIRES = 600

# Production logs at INFO; here every line the measured processes write is time not measured.
LOGGING = {
    **LOGGING,
    "root": {**LOGGING["root"], "level": "WARNING"},  # type: ignore[dict-item]
}
