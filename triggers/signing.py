"""Webhook signatures: `X-Flowdeck-Signature: t=<unix s>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.

The timestamp is inside the signed text, so an old signature cannot be replayed with a new `t`;
several `v1=` values may be sent while a secret rotates; comparisons take constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

HEADER = "X-Flowdeck-Signature"
#: A signature is accepted this many seconds either side of the receiver's clock.
TOLERANCE_S = 300
MAX_HEADER_LENGTH = 4096
MAX_SIGNATURES = 8


class SignatureRefused(Exception):
    """Why a delivery's signature was not accepted (answered as 401)."""


@dataclass(frozen=True)
class ParsedSignature:
    timestamp: int
    signatures: tuple[str, ...]


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex `v1` signature of ``body`` sent at ``timestamp``."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def header_value(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def parse(header: str | None) -> ParsedSignature:
    if not header:
        raise SignatureRefused(f"Missing {HEADER} header.")
    if len(header) > MAX_HEADER_LENGTH:
        raise SignatureRefused(f"{HEADER} is too long.")
    timestamps: list[str] = []
    signatures: list[str] = []
    for part in header.split(","):
        name, separator, value = part.strip().partition("=")
        if not separator:
            continue
        if name == "t":
            timestamps.append(value.strip())
        elif name == "v1":
            signatures.append(value.strip().lower())
    if len(timestamps) != 1 or not timestamps[0].isdigit() or len(timestamps[0]) > 12:
        raise SignatureRefused(f"{HEADER} needs exactly one t=<unix seconds>.")
    if not signatures:
        raise SignatureRefused(f"{HEADER} needs at least one v1=<hex signature>.")
    if len(signatures) > MAX_SIGNATURES:
        raise SignatureRefused(f"{HEADER} carries more than {MAX_SIGNATURES} signatures.")
    return ParsedSignature(int(timestamps[0]), tuple(signatures))


def verify(header: str | None, body: bytes, secrets: Sequence[str], now_s: float) -> int:
    """The signed timestamp if some `v1` matches some secret within the tolerance; else raise."""
    parsed = parse(header)
    if abs(now_s - parsed.timestamp) > TOLERANCE_S:
        raise SignatureRefused(
            f"The signature's timestamp is more than {TOLERANCE_S} s away from the server's clock."
        )
    expected = [sign(secret, parsed.timestamp, body) for secret in secrets]
    matched = False
    for candidate in parsed.signatures:
        for wanted in expected:
            # Every pair is compared (no early exit) so timing says nothing about which matched.
            matched |= hmac.compare_digest(candidate.encode(), wanted.encode())
    if not matched:
        raise SignatureRefused("No signature matches this webhook's secret.")
    return parsed.timestamp
