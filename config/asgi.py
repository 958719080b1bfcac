"""ASGI entry point: HTTP through Django, WebSockets through Channels.

Served by daphne: `daphne config.asgi:application` in the services mode, or `manage.py serve`,
which also starts the embedded worker pool in the embedded mode.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

from django.core.asgi import get_asgi_application

django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from accounts.websocket import BearerTokenMiddleware, OriginCheckMiddleware  # noqa: E402
from executions import publish  # noqa: E402
from executions.routing import websocket_urlpatterns  # noqa: E402


class ServerLoopRecorder:
    """Embedded mode: worker threads hand live events to the loop this server runs on."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        publish.use_server_loop(asyncio.get_running_loop())
        return await self.application(scope, receive, send)


websocket_application = OriginCheckMiddleware(
    AuthMiddlewareStack(BearerTokenMiddleware(URLRouter(websocket_urlpatterns)))
)
application: Any = ProtocolTypeRouter({"http": django_application, "websocket": websocket_application})
if not settings.SERVICES_MODE:
    application = ServerLoopRecorder(application)
