"""Local development and `make run`: debug on, a generated secret kept in the data directory."""

from __future__ import annotations

import secrets

from .base import *  # noqa: F403
from .base import DATA_DIR, env, env_bool, env_list

DEBUG = env_bool("DEBUG", True)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")


def _local_secret_key() -> str:
    """A per-checkout random key, so sessions survive restarts without a key in the repository."""
    key_file = DATA_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


SECRET_KEY = env("SECRET_KEY") or _local_secret_key()
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
# WhiteNoise serves from the finders in development but warns when STATIC_ROOT is missing.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
