"""``{% vite_entry "src/main.tsx" %}``: the tags that load one Vite entry point.

Emits ``<link rel="stylesheet">``, ``<link rel="modulepreload">`` and ``<script type="module">``
tags with URLs from Django's ``static()``, so they follow STATIC_URL and the static files storage.
Without a usable build it renders a visible explanation instead of failing the whole page.
"""

from __future__ import annotations

import logging

from django import template
from django.templatetags.static import static
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from frontend.vite import ViteAssetsError, entry_assets

register = template.Library()
logger = logging.getLogger(__name__)

BUILD_MISSING_HTML = (
    '<div class="build-missing" role="alert" style="max-width:40rem;margin:15vh auto;padding:1.5rem;'
    "font:15px/1.5 system-ui,sans-serif;border:1px solid #d9dde3;border-radius:10px;"
    'background:#fff;color:#1b1f24">'
    "<strong>The front end is not built yet:</strong> run <code>make run</code> or "
    "<code>npm --prefix frontend run build</code>, then reload this page."
    "</div>"
)


@register.simple_tag
def vite_entry(entry: str) -> SafeString:
    try:
        assets = entry_assets(entry)
    except ViteAssetsError as error:
        logger.warning("Cannot load the front end: %s", error)
        return SafeString(BUILD_MISSING_HTML)

    stylesheets = format_html_join(
        "\n", '<link rel="stylesheet" href="{}">', ((static(path),) for path in assets.stylesheets)
    )
    preloads = format_html_join(
        "\n", '<link rel="modulepreload" href="{}">', ((static(path),) for path in assets.preloads)
    )
    script = format_html('<script type="module" src="{}"></script>', static(assets.script))
    return SafeString("\n".join(part for part in (stylesheets, preloads, script) if part))
