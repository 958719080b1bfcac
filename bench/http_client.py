"""A keep-alive HTTP/1.1 client, one connection per instance (one per load-generating thread).

Every HTTP workload and its /health baseline go through this same client, so the client's own
cost (and the connection reuse a real API client would have) is the same on both sides.
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit


class HttpClient:
    def __init__(self, base_url: str, token: str | None = None, timeout_s: float = 90) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.timeout_s = timeout_s
        self.headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout_s)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        encoded = json.dumps(body).encode() if body is not None else None
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body=encoded, headers=self.headers)
                response = self.connection.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self._reconnect()
                return response.status, json.loads(data) if data else None
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection; one fresh try.
                self._reconnect()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def expect(self, method: str, path: str, status: int, body: Any = None) -> Any:
        found, data = self.request(method, path, body)
        if found != status:
            raise AssertionError(f"{method} {path}: expected {status}, got {found}: {data!r}"[:500])
        return data

    def _reconnect(self) -> None:
        self.connection.close()
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)

    def close(self) -> None:
        self.connection.close()
