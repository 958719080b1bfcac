"""The agents page in a real browser: providers whose API key is written and never shown, the
connection test, agent definitions, and external agents with their liveness."""

from __future__ import annotations

import uuid
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import ApiClient, LiveServer, unique_name

SECRET = "sk-browser-" + uuid.uuid4().hex


def provider_named(api: ApiClient, name: str) -> dict[str, Any]:
    found = [
        provider
        for provider in api.get("/api/providers/", page_size=200)["results"]
        if provider["name"] == name
    ]
    assert len(found) == 1, found
    return found[0]


def test_a_providers_secret_is_written_but_never_shown(page: Page, api: ApiClient) -> None:
    secrets_seen: list[str] = []
    page.on(
        "response", lambda response: secrets_seen.append(response.url) if _carries(response, SECRET) else None
    )
    name = unique_name("Local LLM")
    page.goto("/agents")

    page.get_by_test_id("provider-new").click()
    page.get_by_test_id("provider-name").fill(name)
    page.get_by_test_id("provider-kind").select_option("openai")
    # Nothing listens on port 9: the connection test fails fast and says why.
    page.get_by_test_id("provider-base-url").fill("http://127.0.0.1:9/v1")
    page.get_by_test_id("provider-api-key").fill(SECRET)
    page.get_by_test_id("provider-save").click()
    expect(page.get_by_test_id("provider-form")).to_have_count(0)

    provider = provider_named(api, name)
    assert provider["has_api_key"] is True and "api_key" not in provider
    row = page.get_by_test_id(f"provider-row-{provider['id']}")
    expect(page.get_by_test_id(f"provider-key-{provider['id']}")).to_have_text("set")
    assert SECRET not in page.content()

    row.get_by_test_id(f"provider-edit-{provider['id']}").click()
    expect(page.get_by_test_id("provider-api-key")).to_have_value("")
    expect(page.get_by_test_id("provider-api-key")).to_have_attribute("type", "password")
    assert SECRET not in page.content()
    page.get_by_test_id("provider-remove-key").check()
    page.get_by_test_id("provider-save").click()
    expect(page.get_by_test_id(f"provider-key-{provider['id']}")).to_have_text("not set")
    assert provider_named(api, name)["has_api_key"] is False

    row.get_by_test_id(f"provider-test-{provider['id']}").click()
    expect(page.get_by_test_id(f"provider-test-result-{provider['id']}")).to_contain_text("Failed")

    page.reload()
    expect(page.get_by_test_id(f"provider-row-{provider['id']}")).to_be_visible()
    assert SECRET not in page.content()
    assert secrets_seen == []


def _carries(response: Any, secret: str) -> bool:
    try:
        return secret in response.text()
    except Exception:  # redirects and bodies the browser did not keep have nothing to read
        return False


def test_agents_are_defined_with_model_prompt_parameters_and_schema(page: Page, api: ApiClient) -> None:
    provider_name = unique_name("Scripted")
    api.post("/api/providers/", {"name": provider_name, "kind": "scripted", "config": {"default": "hi"}})
    slug = f"helper-{uuid.uuid4().hex[:8]}"
    page.goto("/agents")

    provider = provider_named(api, provider_name)
    page.get_by_test_id(f"provider-test-{provider['id']}").click()
    expect(page.get_by_test_id(f"provider-test-result-{provider['id']}")).to_contain_text("Connected")

    page.get_by_test_id("agent-new").click()
    page.get_by_test_id("agent-slug").fill(slug)
    page.get_by_test_id("agent-name").fill("Helper")
    page.get_by_test_id("agent-provider").select_option(label=provider_name)
    page.get_by_test_id("agent-model").fill("scripted-demo")
    page.get_by_test_id("agent-system-prompt").fill("You answer briefly.")
    page.get_by_label("Temperature").fill("0.2")
    page.get_by_test_id("agent-output-format").select_option("json")
    page.get_by_test_id("agent-json-schema").fill('{"type": "object", "required": ["answer"]}')
    page.get_by_test_id("agent-save").click()

    row = page.get_by_test_id(f"agent-row-{slug}")
    expect(row).to_contain_text("temperature 0.2")
    expect(row).to_contain_text("JSON (schema)")
    saved = next(
        agent for agent in api.get("/api/agents/", page_size=200)["results"] if agent["slug"] == slug
    )
    assert saved["provider"] == provider["id"] and saved["model"] == "scripted-demo"
    assert saved["system_prompt"] == "You answer briefly." and saved["temperature"] == 0.2
    assert saved["json_schema"] == {"type": "object", "required": ["answer"]}

    row.get_by_test_id(f"agent-edit-{slug}").click()
    page.get_by_test_id("agent-json-schema").fill("{not json")
    page.get_by_test_id("agent-save").click()
    expect(page.get_by_test_id("agent-form")).to_contain_text("Enter a JSON Schema object")


def test_external_agents_show_liveness_and_can_be_revoked(
    page: Page, api: ApiClient, flowdeck_server: LiveServer
) -> None:
    registered = api.post(
        "/api/external-agents/register/",
        {"name": unique_name("OCR worker"), "capabilities": ["ocr"], "version": "1.2"},
    )
    ApiClient(flowdeck_server.base_url, registered["token"]).post("/api/external-agents/heartbeat/")
    page.goto("/agents")

    row = page.get_by_test_id(f"external-row-{registered['id']}")
    expect(row).to_contain_text("ocr")
    expect(page.get_by_test_id(f"external-liveness-{registered['id']}")).to_have_text("alive")
    assert registered["token"] not in page.content()

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_test_id(f"external-revoke-{registered['id']}").click()
    expect(page.get_by_test_id(f"external-liveness-{registered['id']}")).to_have_text("revoked")
