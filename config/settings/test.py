"""The test suite: embedded unless DATABASE_URL and REDIS_URL are set (the services-mode run)."""

from __future__ import annotations

import os
import tempfile

from .base import *  # noqa: F403
from .base import DATABASES, SERVICES_MODE

SECRET_KEY = "test-only-secret-key-not-for-production-use-0123456789abcdef"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
FLOWDECK_TEST_NODE_TYPES = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Throttling is exercised by its own test with a tight rate; other tests must not trip it.
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"token_issue": "1000/min"}}  # noqa: F405

if not SERVICES_MODE:
    # Worker threads need a file-backed database (an in-memory one is per connection); the pid
    # keeps concurrent test runs on one machine apart.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"flowdeck-test-{os.getpid()}.sqlite3")
    }
else:
    # Concurrent test runs against one shared Postgres must not drop each other's database.
    DATABASES["default"]["TEST"] = {"NAME": f"test_flowdeck_{os.getpid()}"}
