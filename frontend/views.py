"""The page shell of the single-page app.

Django, not the SPA, decides who may see the app: the shell requires a login and hands the
client the signed-in user and the server-side URLs it needs, so nothing is hard-coded in
JavaScript and no extra request is needed before the first render.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

#: URL names the client needs, keyed as the boot data names them.
BOOT_URL_NAMES = {"login": "login", "logout": "logout", "admin": "admin:index", "api_docs": "api-docs"}


def boot_data(request: HttpRequest) -> dict[str, Any]:
    """What ``<script id="flowdeck-boot">`` carries; frontend/src/store/boot.ts reads it."""
    user = request.user
    return {
        "user": {"username": user.get_username(), "is_staff": bool(getattr(user, "is_staff", False))},
        "urls": {key: reverse(name) for key, name in BOOT_URL_NAMES.items()},
    }


@require_safe
@login_required
@never_cache
@ensure_csrf_cookie
def app_shell(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Serve the SPA for ``/`` and every client-side route; the client router picks the page.

    ``ensure_csrf_cookie`` guarantees the ``csrftoken`` cookie exists even though the shell has no
    form: the client reads it for every unsafe API call and for the logout form. ``never_cache``
    keeps a signed-out browser from showing the shell (and the username in it) from its cache.
    Extra URL arguments are accepted and ignored, so any route pattern can point here.
    """
    return render(request, "app.html", {"boot": boot_data(request)})
