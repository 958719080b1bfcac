"""The server side of the single-page app: the shell page, its boot data and the Vite assets."""

import json
import re

import pytest
from django.template import Context, Template
from django.test import override_settings

from frontend import vite

pytestmark = pytest.mark.django_db

MANIFEST = {
    "src/main.tsx": {
        "file": "assets/main-abc123.js",
        "src": "src/main.tsx",
        "isEntry": True,
        "css": ["assets/main-def456.css"],
        "imports": ["_vendor-789.js"],
    },
    "_vendor-789.js": {"file": "assets/vendor-789.js", "css": ["assets/vendor-1.css"]},
}


@pytest.fixture
def built_manifest(tmp_path, settings):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(MANIFEST))
    settings.VITE_MANIFEST_PATH = path
    vite.clear_cache()
    yield path
    vite.clear_cache()


@pytest.fixture
def missing_manifest(tmp_path, settings):
    settings.VITE_MANIFEST_PATH = tmp_path / "nothing-here.json"
    vite.clear_cache()
    yield
    vite.clear_cache()


def boot_of(response):
    match = re.search(
        rb'<script id="flowdeck-boot" type="application/json">(.*?)</script>', response.content, re.S
    )
    assert match, "no boot blob in the page"
    return json.loads(match.group(1))


def test_anonymous_user_is_sent_to_login_with_next(client, built_manifest):
    response = client.get("/workflows/12?tab=runs")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/workflows/12%3Ftab%3Druns"


@pytest.mark.parametrize("path", ["/", "/workflows", "/runs", "/inbox/", "/agents/a/b"])
def test_shell_serves_every_client_route_with_boot_data_and_assets(
    client, django_user_model, built_manifest, path
):
    user = django_user_model.objects.create_user("ada", password="pw", is_staff=True)
    client.force_login(user)

    response = client.get(path)

    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    assert "csrftoken" in response.cookies
    html = response.content.decode()
    assert '<div id="root"></div>' in html
    assert '<script type="module" src="/static/app/assets/main-abc123.js"></script>' in html
    assert '<link rel="stylesheet" href="/static/app/assets/main-def456.css">' in html
    assert '<link rel="stylesheet" href="/static/app/assets/vendor-1.css">' in html
    assert '<link rel="modulepreload" href="/static/app/assets/vendor-789.js">' in html
    assert boot_of(response) == {
        "user": {"username": "ada", "is_staff": True},
        "urls": {
            "login": "/accounts/login/",
            "logout": "/accounts/logout/",
            "admin": "/admin/",
            "api_docs": "/api/docs/",
        },
    }


def test_boot_blob_escapes_a_hostile_username(client, django_user_model, built_manifest):
    user = django_user_model.objects.create_user("</script><script>alert(1)</script>", password="pw")
    client.force_login(user)

    response = client.get("/")

    assert b"<script>alert(1)" not in response.content
    assert boot_of(response)["user"] == {"username": "</script><script>alert(1)</script>", "is_staff": False}


def test_missing_build_renders_an_explanation_not_a_500(client, django_user_model, missing_manifest):
    client.force_login(django_user_model.objects.create_user("ada", password="pw"))

    response = client.get("/workflows")

    assert response.status_code == 200
    html = response.content.decode()
    assert "The front end is not built yet" in html
    assert "npm --prefix frontend run build" in html
    assert '<script type="module"' not in html


def test_shell_refuses_post(client, django_user_model, built_manifest):
    client.force_login(django_user_model.objects.create_user("ada", password="pw"))

    assert client.post("/workflows").status_code == 405


def test_manifest_is_cached_without_debug_and_reread_with_debug(built_manifest, settings):
    settings.DEBUG = False
    assert vite.entry_assets("src/main.tsx").script == "app/assets/main-abc123.js"
    built_manifest.write_text(json.dumps({"src/main.tsx": {"file": "assets/main-new.js"}}))

    assert vite.entry_assets("src/main.tsx").script == "app/assets/main-abc123.js"

    settings.DEBUG = True
    assert vite.entry_assets("src/main.tsx").script == "app/assets/main-new.js"


def test_a_build_that_appears_after_a_failed_read_is_picked_up(tmp_path, settings):
    settings.DEBUG = False
    settings.VITE_MANIFEST_PATH = tmp_path / "manifest.json"
    vite.clear_cache()
    with pytest.raises(vite.ViteManifestMissing):
        vite.entry_assets("src/main.tsx")

    (tmp_path / "manifest.json").write_text(json.dumps(MANIFEST))

    assert vite.entry_assets("src/main.tsx").script == "app/assets/main-abc123.js"
    vite.clear_cache()


def test_unknown_entry_renders_the_explanation(built_manifest):
    html = Template('{% load vite %}{% vite_entry "src/other.tsx" %}').render(Context())

    assert "The front end is not built yet" in html


@override_settings(STATIC_URL="/assets-root/")
def test_tag_urls_follow_static_url(built_manifest):
    html = Template('{% load vite %}{% vite_entry "src/main.tsx" %}').render(Context())

    assert 'src="/assets-root/app/assets/main-abc123.js"' in html


def test_logout_form_token_from_the_shell_cookie_passes_csrf(django_user_model, built_manifest):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_user("ada", password="pw"))
    token = client.get("/").cookies["csrftoken"].value

    response = client.post("/accounts/logout/", {"csrfmiddlewaretoken": token})

    assert response.status_code in (200, 302)
    assert "_auth_user_id" not in client.session
