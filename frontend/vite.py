"""Find the files Vite built for an entry point, from the manifest it writes next to them.

Vite fingerprints every file name (``assets/main-3f9a1c.js``), so the page shell cannot name
them itself; ``static/app/.vite/manifest.json`` maps each source entry to its output files. The
manifest is read once per process, except with ``DEBUG`` on, where a rebuild must show up on the
next reload without restarting the server.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

#: Where Vite's ``build.outDir`` lands, relative to STATIC_URL (see frontend/vite.config.ts).
STATIC_PREFIX = "app/"
DEFAULT_MANIFEST_PATH = Path(__file__).resolve().parent.parent / "static" / "app" / ".vite" / "manifest.json"

Manifest = dict[str, dict[str, Any]]


class ViteAssetsError(Exception):
    """The built front end cannot be used; the page shows this message instead of the app."""


class ViteManifestMissing(ViteAssetsError):
    pass


class ViteEntryMissing(ViteAssetsError):
    pass


@dataclass(frozen=True)
class EntryAssets:
    """Static paths (relative to STATIC_URL) an entry needs, in the order to emit them."""

    script: str
    stylesheets: tuple[str, ...] = field(default=())
    preloads: tuple[str, ...] = field(default=())


def manifest_path() -> Path:
    return Path(getattr(settings, "VITE_MANIFEST_PATH", None) or DEFAULT_MANIFEST_PATH)


def _read_manifest(path: Path) -> Manifest:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise ViteManifestMissing(f"No Vite manifest at {path}") from error
    try:
        manifest = json.loads(text)
    except ValueError as error:
        raise ViteManifestMissing(f"The Vite manifest at {path} is not valid JSON") from error
    if not isinstance(manifest, dict):
        raise ViteManifestMissing(f"The Vite manifest at {path} is not a JSON object")
    return manifest


# A failed read raises, and functools.cache does not keep exceptions: a build finishing after the
# server started is picked up by the next request.
_read_manifest_once = functools.cache(_read_manifest)


def load_manifest() -> Manifest:
    path = manifest_path()
    if settings.DEBUG:
        return _read_manifest(path)
    return _read_manifest_once(path)


def clear_cache() -> None:
    _read_manifest_once.cache_clear()


def entry_assets(entry: str) -> EntryAssets:
    """The script, stylesheets and preloadable chunks for one entry (e.g. ``src/main.tsx``).

    CSS is collected through the entry's static imports too: Vite attaches a shared chunk's CSS to
    that chunk, and the page needs it before the first render.
    """
    manifest = load_manifest()
    chunk = manifest.get(entry)
    if not chunk or "file" not in chunk:
        raise ViteEntryMissing(f"The Vite manifest has no entry {entry!r}")

    stylesheets: list[str] = []
    preloads: list[str] = []
    seen: set[str] = set()

    def collect(key: str, is_entry: bool) -> None:
        if key in seen:
            return
        seen.add(key)
        current = manifest.get(key)
        if not current:
            return
        for name in current.get("css", ()):
            if name not in stylesheets:
                stylesheets.append(name)
        if not is_entry and current.get("file"):
            preloads.append(current["file"])
        for imported in current.get("imports", ()):
            collect(imported, is_entry=False)

    collect(entry, is_entry=True)
    return EntryAssets(
        script=STATIC_PREFIX + chunk["file"],
        stylesheets=tuple(STATIC_PREFIX + name for name in stylesheets),
        preloads=tuple(STATIC_PREFIX + name for name in preloads),
    )
