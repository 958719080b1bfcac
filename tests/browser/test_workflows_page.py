"""The workflows page in a real browser: create, filter, duplicate, archive/restore, export/import."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import ApiClient, starter_graph, unique_name


def create_workflow(api: ApiClient, name: str, **fields: Any) -> dict[str, Any]:
    return dict(api.post("/api/workflows/", {"name": name, "graph": starter_graph(), **fields}))


def show_only(page: Page, text: str, *, archived: bool = False) -> None:
    """Open the list filtered to this test's workflows (the server is shared by every test)."""
    query = f"?search={text}" + ("&archived=true" if archived else "")
    page.goto(f"/workflows{query}")
    expect(page.get_by_role("heading", name="Workflows", level=1)).to_be_visible()


def row(page: Page, name: str) -> Locator:
    return page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=name, exact=True))


def test_creating_a_workflow_opens_it_in_the_editor(page: Page, api: ApiClient) -> None:
    name = unique_name("Support triage")

    page.get_by_role("button", name="New workflow").click()
    dialog = page.get_by_role("dialog", name="New workflow")
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_label("Description").fill("Sort incoming tickets")
    dialog.get_by_label("Tags").fill("support, Triage")
    dialog.get_by_role("button", name="Create and open").click()

    expect(page).to_have_url(re.compile(r"/workflows/\d+$"))
    workflow_id = int(page.url.rsplit("/", 1)[1])
    created = api.get(f"/api/workflows/{workflow_id}/")
    assert (created["name"], created["description"], created["tags"]) == (
        name,
        "Sort incoming tickets",
        ["support", "triage"],
    )
    assert [node["type"] for node in created["graph"]["nodes"]] == ["start", "end"]
    assert [(edge["source"], edge["target"]) for edge in created["graph"]["edges"]] == [("start", "end")]


def test_the_create_form_shows_field_errors_from_the_check_and_from_the_server(
    page: Page, api: ApiClient
) -> None:
    name = unique_name("Too long")
    page.get_by_role("button", name="New workflow").click()
    dialog = page.get_by_role("dialog", name="New workflow")

    dialog.get_by_role("button", name="Create and open").click()
    expect(dialog.get_by_text("Give the workflow a name.")).to_be_visible()
    expect(dialog.get_by_label("Name")).to_have_attribute("aria-invalid", "true")

    dialog.get_by_label("Name").fill(name)
    dialog.get_by_label("Description").fill("x" * 10_001)
    dialog.get_by_role("button", name="Create and open").click()

    expect(dialog.get_by_text("Ensure this field has no more than 10000 characters.")).to_be_visible()
    expect(dialog.get_by_label("Description")).to_have_attribute("aria-invalid", "true")
    expect(page).to_have_url(re.compile(r"/workflows$"))
    assert api.get("/api/workflows/", search=name)["count"] == 0


def test_search_tag_and_owner_filters_narrow_the_list_and_stay_in_the_address(
    page: Page, api: ApiClient, api_as: Any
) -> None:
    marker = unique_name("Filtered").split()[1]
    create_workflow(api, f"Mine tagged {marker}", tags=[f"red-{marker}"])
    create_workflow(api, f"Mine plain {marker}")
    create_workflow(api_as("alice"), f"Alice tagged {marker}", tags=[f"red-{marker}"])
    show_only(page, marker)
    expect(page.get_by_text("3 workflows matching")).to_be_visible()

    row(page, f"Mine tagged {marker}").get_by_role("button", name=f"red-{marker}").click()
    expect(page.get_by_text(f"2 workflows matching “{marker}”, tagged “red-{marker}”")).to_be_visible()
    page.get_by_label("Owner").select_option("alice")
    expect(page.get_by_text("1 workflow matching")).to_be_visible()
    expect(row(page, f"Alice tagged {marker}")).to_be_visible()

    page.reload()
    expect(page.get_by_label("Owner")).to_have_value("alice")
    expect(page.get_by_label("Tag", exact=True)).to_have_value(f"red-{marker}")
    expect(page.get_by_role("heading", level=2)).to_have_text([f"Alice tagged {marker}"])


def test_duplicate_makes_a_copy_with_the_same_graph(page: Page, api: ApiClient) -> None:
    name = unique_name("Original")
    original = create_workflow(api, name, description="the source", tags=["copied"])
    show_only(page, name)

    row(page, name).get_by_role("button", name=f"Duplicate {name}").click()

    expect(page.get_by_role("status").filter(has_text=f"Created “Copy of {name}”.")).to_be_visible()
    expect(row(page, f"Copy of {name}")).to_be_visible()
    copies = api.get("/api/workflows/", search=f"Copy of {name}")["results"]
    assert len(copies) == 1
    copy = api.get(f"/api/workflows/{copies[0]['id']}/")
    source = api.get(f"/api/workflows/{original['id']}/")
    assert copy["id"] != source["id"]
    assert (copy["graph"], copy["description"], copy["tags"]) == (source["graph"], "the source", ["copied"])


def test_archive_hides_a_workflow_and_restore_brings_it_back(page: Page, api: ApiClient) -> None:
    name = unique_name("Old process")
    workflow = create_workflow(api, name)
    show_only(page, name)

    row(page, name).get_by_role("button", name=f"Archive {name}").click()
    expect(page.get_by_role("status").filter(has_text=f"Archived “{name}”.")).to_be_visible()
    expect(row(page, name)).to_have_count(0)
    assert api.get(f"/api/workflows/{workflow['id']}/")["is_archived"] is True

    # click(), not check(): the box follows the address, which the router updates a moment later.
    page.get_by_label("Archived").click()
    expect(page).to_have_url(re.compile(r"archived=true"))
    expect(page.get_by_label("Archived")).to_be_checked()
    archived_row = row(page, name)
    expect(archived_row.get_by_text("Archived", exact=True)).to_be_visible()
    archived_row.get_by_role("button", name=f"Restore {name}").click()

    expect(page.get_by_role("status").filter(has_text=f"Restored “{name}”.")).to_be_visible()
    expect(row(page, name)).to_have_count(0)
    page.get_by_label("Archived").click()
    expect(page.get_by_label("Archived")).not_to_be_checked()
    expect(row(page, name)).to_be_visible()
    assert api.get(f"/api/workflows/{workflow['id']}/")["is_archived"] is False


def test_restoring_a_row_someone_changed_meanwhile_shows_the_conflict_and_reloads(
    page: Page, api: ApiClient
) -> None:
    name = unique_name("Contested")
    workflow = create_workflow(api, name)
    api.delete(f"/api/workflows/{workflow['id']}/")
    show_only(page, name, archived=True)
    expect(row(page, name)).to_be_visible()

    api.patch(f"/api/workflows/{workflow['id']}/", {"description": "edited elsewhere"})
    row(page, name).get_by_role("button", name=f"Restore {name}").click()

    alert = page.get_by_role("alert").filter(has_text="Changed by someone else")
    expect(alert).to_contain_text(f"Could not restore “{name}”")
    expect(alert).to_contain_text("saved by someone else since you loaded it")
    assert api.get(f"/api/workflows/{workflow['id']}/")["is_archived"] is True

    alert.get_by_role("button", name="Reload the list").click()
    expect(alert).to_have_count(0)
    expect(row(page, name).get_by_text("edited elsewhere")).to_be_visible()
    row(page, name).get_by_role("button", name=f"Restore {name}").click()
    expect(page.get_by_role("status").filter(has_text=f"Restored “{name}”.")).to_be_visible()


def test_export_downloads_the_document_and_importing_it_creates_a_new_workflow(
    page: Page, api: ApiClient, tmp_path: Path
) -> None:
    name = unique_name("Portable")
    workflow = create_workflow(api, name, tags=["export"])
    show_only(page, name)

    with page.expect_download() as download_info:
        row(page, name).get_by_role("button", name=f"Export {name}").click()
    download = download_info.value
    assert download.suggested_filename == f"{name}.flowdeck.json"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert json.loads(saved.read_text()) == api.get(f"/api/workflows/{workflow['id']}/export/")

    page.get_by_label("Workflow file to import").set_input_files(saved)

    expect(page.get_by_role("status").filter(has_text=f"Imported “{name}”.")).to_be_visible()
    expect(row(page, name)).to_have_count(2)
    imported = api.get("/api/workflows/", search=name)["results"]
    assert sorted(item["id"] for item in imported)[0] == workflow["id"]
    assert [item["tags"] for item in imported] == [["export"], ["export"]]


def test_importing_a_bad_file_explains_what_is_wrong(page: Page, tmp_path: Path) -> None:
    not_json = tmp_path / "notes.json"
    not_json.write_text("this is not JSON")
    wrong_format = tmp_path / "other-tool.json"
    wrong_format.write_text(json.dumps({"format": "other.tool", "version": 1, "name": "x", "graph": {}}))

    page.get_by_label("Workflow file to import").set_input_files(not_json)
    alert = page.get_by_role("alert").filter(has_text="Could not import")
    expect(alert).to_contain_text("“notes.json” is not a JSON file")

    page.get_by_label("Workflow file to import").set_input_files(wrong_format)
    expect(alert).to_contain_text("Could not import “other-tool.json”")
    expect(alert).to_contain_text("please check what you entered")
    expect(alert.get_by_role("listitem").filter(has_text="format")).to_contain_text("not a valid choice")
