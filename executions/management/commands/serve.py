"""`manage.py serve`: the ASGI server, plus the worker pool when running embedded."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

LISTEN_BACKLOG = 1024


class Command(BaseCommand):
    help = "Serve Flowdeck over HTTP and WebSockets (with the embedded worker in the embedded mode)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--no-worker", action="store_true", help="Embedded mode only: serve without the worker pool."
        )

    def handle(self, *args: Any, host: str, port: int, no_worker: bool, **options: Any) -> None:
        from daphne.server import Server

        from config import embedded
        from config.asgi import application

        interface = host.replace(":", r"\:")  # an IPv6 address inside a Twisted endpoint string
        if not settings.SERVICES_MODE and not no_worker:
            embedded.start_runtime()
        mode = "services" if settings.SERVICES_MODE else "embedded"
        self.stdout.write(f"Flowdeck ({mode} mode) serving on http://{host}:{port}/  (Ctrl-C stops)")
        try:
            Server(
                application=application,
                # A deep accept backlog: a hundred browsers reconnecting at once must not be reset.
                endpoints=[f"tcp:port={port}:interface={interface}:backlog={LISTEN_BACKLOG}"],
                signal_handlers=True,
                verbosity=0,
                websocket_handshake_timeout=30,
            ).run()
        finally:
            embedded.stop_runtime()
