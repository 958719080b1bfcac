"""Secrets at rest: provider API keys are stored encrypted (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from FLOWDECK_ENCRYPTION_KEY, or is derived from SECRET_KEY when that is not set;
changing it makes stored secrets unreadable (they must be entered again). Plain secrets exist only
in memory, for the duration of a provider call; they are never logged, serialised or sent to Celery.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class SecretUnreadable(Exception):
    """The stored secret was encrypted with another key."""


def _fernet() -> Fernet:
    material = settings.FLOWDECK_ENCRYPTION_KEY or settings.SECRET_KEY
    key = hashlib.sha256(b"flowdeck-secrets:" + material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode() if secret else ""


def decrypt(ciphertext: str) -> str:
    if not ciphertext:
        return ""
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("The stored secret cannot be decrypted with the current key.") from None
