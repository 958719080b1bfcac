"""The graph editor in a real browser: build, validate, undo/redo, copy/paste, layout, publish,
diff, run, export and re-import. Every graph is read back through the API, so the tests check what
the editor saved, not what it shows."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import ARTIFACTS_DIR, ApiClient, unique_name

SAVED_TIMEOUT_MS = 15_000


def empty_graph() -> dict[str, Any]:
    return {"schema_version": 1, "nodes": [], "edges": []}


def chain_graph() -> dict[str, Any]:
    """start → transform → condition → end, valid, with an input the run form asks for."""
    return {
        "schema_version": 1,
        "nodes": [
            {
                "id": "start",
                "type": "start",
                "name": "Start",
                "position": {"x": 0, "y": 0},
                "config": {
                    "input_schema": {
                        "type": "object",
                        "properties": {"amount": {"type": "number"}},
                        "required": ["amount"],
                    }
                },
            },
            {
                "id": "double",
                "type": "transform",
                "name": "Double",
                "position": {"x": 300, "y": 0},
                "config": {"mapping": {"total": "inputs.amount * 2"}},
            },
            {
                "id": "big",
                "type": "condition",
                "name": "Big?",
                "position": {"x": 600, "y": 0},
                "config": {"expression": "nodes.double.output.total > 100"},
            },
            {
                "id": "done",
                "type": "end",
                "name": "Done",
                "position": {"x": 900, "y": 0},
                "config": {"outputs": {"total": "{{ nodes.double.output.total }}"}},
            },
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "double"},
            {"id": "e2", "source": "double", "target": "big"},
            {"id": "e3", "source": "big", "source_handle": "true", "target": "done"},
        ],
    }


def create_workflow(api: ApiClient, graph: dict[str, Any], prefix: str = "Editor") -> int:
    created = api.post("/api/workflows/", {"name": unique_name(prefix), "graph": graph})
    return int(created["id"])


def open_editor(page: Page, workflow_id: int) -> None:
    page.goto(f"/workflows/{workflow_id}")
    expect(page.get_by_test_id("editor")).to_be_visible()
    expect(page.get_by_test_id("palette-item-start")).to_be_visible()


def wait_saved(page: Page) -> None:
    """Autosave is debounced: wait until nothing is pending and the last save went through."""
    status = page.get_by_test_id("save-status")
    time.sleep(0.2)
    expect(status).to_have_attribute("data-status", "saved", timeout=SAVED_TIMEOUT_MS)


def draft(api: ApiClient, workflow_id: int) -> dict[str, Any]:
    return dict(api.get(f"/api/workflows/{workflow_id}/")["graph"])


def node(page: Page, node_id: str) -> Locator:
    return page.get_by_test_id(f"node-{node_id}")


def drop_from_palette(page: Page, node_type: str, x: float, y: float) -> None:
    """Drag a type from the library onto the canvas at (x, y) relative to the canvas."""
    page.get_by_test_id(f"palette-item-{node_type}").drag_to(
        page.get_by_test_id("editor-canvas"), target_position={"x": x, "y": y}
    )


def connect(page: Page, source: str, handle: str, target: str) -> None:
    source_handle = page.get_by_test_id(f"handle-{source}-{handle}")
    target_handle = page.get_by_test_id(f"handle-{target}-in")
    source_box = source_handle.bounding_box()
    target_box = target_handle.bounding_box()
    assert source_box and target_box
    page.mouse.move(source_box["x"] + source_box["width"] / 2, source_box["y"] + source_box["height"] / 2)
    page.mouse.down()
    page.mouse.move(target_box["x"] + 5, target_box["y"] + 5, steps=8)
    page.mouse.move(
        target_box["x"] + target_box["width"] / 2, target_box["y"] + target_box["height"] / 2, steps=4
    )
    page.mouse.up()


def edge_set(graph: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(edge["source"], edge.get("source_handle", "out"), edge["target"]) for edge in graph["edges"]}


def drag_node(page: Page, node_id: str, dx: float, dy: float) -> None:
    box = node(page, node_id).bounding_box()
    assert box
    x, y = box["x"] + box["width"] / 2, box["y"] + 12
    page.mouse.move(x, y)
    page.mouse.down()
    # React Flow applies drags per animation frame: move in frames, not in one burst.
    for step in range(1, 11):
        page.mouse.move(x + dx * step / 10, y + dy * step / 10)
        page.wait_for_timeout(20)
    page.mouse.up()


def select_node(page: Page, node_id: str) -> None:
    node(page, node_id).locator(".fd-node__name, .fd-loop__name").first.click()
    expect(page.get_by_test_id("node-panel")).to_have_attribute("data-node-id", node_id)


def test_build_a_workflow_by_dragging_and_connecting(page: Page, api: ApiClient) -> None:
    workflow_id = create_workflow(api, empty_graph(), "Built by hand")
    open_editor(page, workflow_id)

    # Kept away from the canvas edges, where a dragged connection pans the view.
    drop_from_palette(page, "start", 130, 80)
    drop_from_palette(page, "transform", 430, 80)
    drop_from_palette(page, "condition", 130, 320)
    drop_from_palette(page, "end", 430, 320)
    for node_id in ("start", "transform", "condition", "end"):
        expect(node(page, node_id)).to_be_visible()

    connect(page, "start", "out", "transform")
    connect(page, "transform", "out", "condition")
    connect(page, "condition", "true", "end")
    wait_saved(page)

    graph = draft(api, workflow_id)
    assert [(item["id"], item["type"]) for item in graph["nodes"]] == [
        ("start", "start"),
        ("transform", "transform"),
        ("condition", "condition"),
        ("end", "end"),
    ]
    assert edge_set(graph) == {
        ("start", "out", "transform"),
        ("transform", "out", "condition"),
        ("condition", "true", "end"),
    }


def test_a_validation_error_appears_on_the_node_and_field_and_goes_away(page: Page, api: ApiClient) -> None:
    workflow_id = create_workflow(api, chain_graph(), "Validation")
    open_editor(page, workflow_id)
    expect(page.get_by_test_id("node-issues-big")).to_have_count(0)

    select_node(page, "big")
    expression = page.get_by_test_id("field-expression")
    expression.fill("")
    # The as-you-type check: a condition needs an expression.
    expect(page.get_by_test_id("node-issues-big")).to_be_visible()
    expect(page.get_by_test_id("field-issue-expression")).to_contain_text("needs a value")

    expression.fill("nodes.double.output.total > 100")
    expect(page.get_by_test_id("node-issues-big")).to_have_count(0)
    expect(page.get_by_test_id("field-issue-expression")).to_have_count(0)

    # Only the server parses expressions: its answer to the autosave marks the node.
    expression.fill("nodes.double.output.total >")
    wait_saved(page)
    expect(page.get_by_test_id("node-issues-big")).to_be_visible()
    expect(page.get_by_test_id("field-issue-expression")).to_be_visible()
    page.get_by_test_id("validate").click()
    expect(page.get_by_test_id("validate-result")).to_contain_text("problem")
    expect(page.locator("[data-testid=issue-item][data-code=invalid_expression]")).to_have_count(1)

    select_node(page, "big")
    page.get_by_test_id("field-expression").fill("nodes.double.output.total > 100")
    wait_saved(page)
    expect(page.get_by_test_id("node-issues-big")).to_have_count(0)
    page.get_by_test_id("validate").click()
    expect(page.get_by_test_id("validate-result")).to_have_text("Valid")
    assert api.post(f"/api/workflows/{workflow_id}/validate/")["valid"] is True


def test_undo_and_redo_restore_the_exact_graph(page: Page, api: ApiClient) -> None:
    workflow_id = create_workflow(api, chain_graph(), "Undo")
    original = draft(api, workflow_id)
    open_editor(page, workflow_id)

    select_node(page, "double")
    page.keyboard.press("Delete")
    expect(node(page, "double")).to_have_count(0)
    wait_saved(page)
    deleted = draft(api, workflow_id)
    assert [item["id"] for item in deleted["nodes"]] == ["start", "big", "done"]
    assert edge_set(deleted) == {("big", "true", "done")}

    page.keyboard.press("Control+z")
    expect(node(page, "double")).to_be_visible()
    wait_saved(page)
    assert draft(api, workflow_id) == original

    page.keyboard.press("Control+Shift+z")
    expect(node(page, "double")).to_have_count(0)
    wait_saved(page)
    assert draft(api, workflow_id) == deleted

    page.keyboard.press("Control+z")
    wait_saved(page)
    assert draft(api, workflow_id) == original
    page.keyboard.press("Control+y")
    wait_saved(page)
    assert draft(api, workflow_id) == deleted


def test_copy_and_paste_give_new_ids_and_rewrite_references(page: Page, api: ApiClient) -> None:
    workflow_id = create_workflow(api, chain_graph(), "Paste")
    open_editor(page, workflow_id)

    select_node(page, "double")
    node(page, "big").locator(".fd-node__name").click(modifiers=["Shift"])
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    expect(node(page, "double_2")).to_be_visible()
    expect(node(page, "big_2")).to_be_visible()
    wait_saved(page)

    graph = draft(api, workflow_id)
    by_id = {item["id"]: item for item in graph["nodes"]}
    assert sorted(by_id) == ["big", "big_2", "done", "double", "double_2", "start"]
    # The copies point at each other; the originals are untouched.
    assert by_id["big_2"]["config"]["expression"] == "nodes.double_2.output.total > 100"
    assert by_id["big"]["config"]["expression"] == "nodes.double.output.total > 100"
    assert by_id["double_2"]["config"] == by_id["double"]["config"]
    assert ("double_2", "out", "big_2") in edge_set(graph)
    assert len(graph["edges"]) == 4
    assert len({edge["id"] for edge in graph["edges"]}) == 4
    assert by_id["double_2"]["position"] != by_id["double"]["position"]


def overlapping_graph() -> dict[str, Any]:
    """Twelve nodes piled at the origin, one of them a loop with two body nodes."""
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}}]
    edges: list[dict[str, Any]] = []
    nodes.append({"id": "fan", "type": "parallel", "position": {"x": 0, "y": 0}})
    edges.append({"id": "e_fan", "source": "start", "target": "fan"})
    for index in range(5):
        nodes.append(
            {
                "id": f"branch_{index}",
                "type": "transform",
                "position": {"x": 10, "y": 10},
                "config": {"mapping": {"n": str(index)}},
            }
        )
        edges.append({"id": f"e_in_{index}", "source": "fan", "target": f"branch_{index}"})
        edges.append({"id": f"e_out_{index}", "source": f"branch_{index}", "target": "merge"})
    nodes.append({"id": "merge", "type": "join", "position": {"x": 0, "y": 0}})
    nodes.append(
        {
            "id": "repeat",
            "type": "loop",
            "position": {"x": 0, "y": 0},
            "size": {"width": 300, "height": 200},
            "config": {"mode": "count", "count": 2, "max_iterations": 10},
        }
    )
    nodes.append({"id": "first", "type": "transform", "parent": "repeat", "position": {"x": 5, "y": 5}})
    nodes.append({"id": "second", "type": "transform", "parent": "repeat", "position": {"x": 5, "y": 5}})
    nodes.append({"id": "finish", "type": "end", "position": {"x": 0, "y": 0}})
    edges += [
        {"id": "e_loop", "source": "merge", "target": "repeat"},
        {"id": "e_body", "source": "first", "target": "second"},
        {"id": "e_end", "source": "repeat", "target": "finish"},
    ]
    return {"schema_version": 1, "nodes": nodes, "edges": edges}


def node_boxes(page: Page) -> dict[str, dict[str, float]]:
    boxes: dict[str, dict[str, float]] = page.evaluate(
        """() => Object.fromEntries(
            [...document.querySelectorAll('.fd-canvas .react-flow__node')].map((element) => {
                const r = element.getBoundingClientRect();
                return [element.dataset.id, {x: r.x, y: r.y, width: r.width, height: r.height}];
            }))"""
    )
    return boxes


def overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def test_auto_layout_leaves_no_overlapping_nodes(page: Page, api: ApiClient) -> None:
    workflow_id = create_workflow(api, overlapping_graph(), "Layout")
    open_editor(page, workflow_id)
    before = node_boxes(page)
    assert overlaps(before["branch_0"], before["branch_1"])

    page.get_by_test_id("auto-layout").click()
    wait_saved(page)
    page.wait_for_timeout(400)  # the view animates to fit the new layout
    boxes = node_boxes(page)
    graph = draft(api, workflow_id)
    parent = {item["id"]: item.get("parent") for item in graph["nodes"]}
    ids = sorted(boxes)
    assert len(ids) == 12
    for index, first in enumerate(ids):
        for second in ids[index + 1 :]:
            if parent[first] == second or parent[second] == first:
                continue
            assert not overlaps(boxes[first], boxes[second]), (first, second)
    # The loop's body sits inside the loop, and the loop grew to hold it.
    loop = boxes["repeat"]
    for child in ("first", "second"):
        box = boxes[child]
        assert loop["x"] <= box["x"] and box["x"] + box["width"] <= loop["x"] + loop["width"]
        assert loop["y"] <= box["y"] and box["y"] + box["height"] <= loop["y"] + loop["height"]
    assert len({(item["position"]["x"], item["position"]["y"]) for item in graph["nodes"]}) > 8


def publish(page: Page, note: str) -> int:
    page.get_by_test_id("open-publish").click()
    page.get_by_test_id("publish-note").fill(note)
    page.get_by_test_id("publish-submit").click()
    result = page.get_by_test_id("publish-result")
    expect(result).to_be_visible()
    version = int(result.get_attribute("data-version") or 0)
    page.get_by_test_id("publish-dialog-close").click()
    return version


def test_publish_diff_and_roll_back(page: Page, api: ApiClient) -> None:
    workflow_id = create_workflow(api, chain_graph(), "Versions")
    open_editor(page, workflow_id)
    assert publish(page, "first cut") == 1

    select_node(page, "double")
    page.get_by_test_id("field-mapping-value-0").fill("inputs.amount * 3")
    select_node(page, "done")
    page.get_by_test_id("node-name-input").fill("Finished")
    # Moving a node is not a change worth showing in a diff.
    drag_node(page, "start", 0, 150)
    wait_saved(page)
    assert publish(page, "triple it") == 2
    first, second = (
        api.get(f"/api/workflows/{workflow_id}/versions/{number}/")["graph"] for number in (1, 2)
    )
    assert first["nodes"][0]["position"] != second["nodes"][0]["position"]
    versions = api.get(f"/api/workflows/{workflow_id}/versions/")["results"]
    assert [(item["number"], item["note"], item["is_active"]) for item in versions] == [
        (2, "triple it", True),
        (1, "first cut", False),
    ]

    page.get_by_test_id("tab-versions").click()
    expect(page.get_by_test_id("version-2")).to_be_visible()
    expect(page.get_by_test_id("diff-from")).to_have_value("1")
    expect(page.get_by_test_id("diff-to")).to_have_value("2")
    page.get_by_test_id("diff-open").click()
    diff = page.get_by_test_id("diff-view")
    expect(diff.get_by_test_id("diff-node-double")).to_have_attribute("data-diff-status", "changed")
    statuses = {
        node_id: diff.get_by_test_id(f"diff-node-{node_id}").get_attribute("data-diff-status")
        for node_id in ("start", "double", "big", "done")
    }
    assert statuses == {"start": "unchanged", "double": "changed", "big": "unchanged", "done": "changed"}
    expect(diff.locator("[data-diff-status=changed].fd-diff-node")).to_have_count(2)
    expect(diff.locator(".fd-diff-node:not(.fd-diff--unchanged)")).to_have_count(2)
    expect(diff.get_by_test_id("diff-summary")).to_contain_text("0 added, 0 removed, 2 changed")
    page.screenshot(path=str(ARTIFACTS_DIR / "test_publish_diff_and_roll_back-diff.png"))
    page.get_by_test_id("diff-view-close").click()

    page.get_by_test_id("version-activate-1").click()
    expect(page.get_by_test_id("version-1")).to_have_attribute("data-active", "true")
    assert api.get(f"/api/workflows/{workflow_id}/")["active_version"] == 1

    # Restoring a version puts its graph in the draft, as one undoable step.
    edited = draft(api, workflow_id)
    page.get_by_test_id("version-restore-1").click()
    expect(node(page, "done")).to_contain_text("Done")
    wait_saved(page)
    assert draft(api, workflow_id) == first
    page.keyboard.press("Control+z")
    wait_saved(page)
    assert draft(api, workflow_id) == edited


def test_run_the_draft_with_the_generated_input_form(page: Page, api: ApiClient) -> None:
    workflow_id = create_workflow(api, chain_graph(), "Run")
    open_editor(page, workflow_id)

    page.get_by_test_id("open-run").click()
    dialog = page.get_by_test_id("run-dialog")
    expect(page.get_by_test_id("run-target-active")).to_be_disabled()
    page.get_by_test_id("run-submit").click()
    expect(dialog.get_by_text("Required.")).to_be_visible()
    page.get_by_test_id("run-input-amount").fill("80")
    page.get_by_test_id("run-submit").click()

    result = page.get_by_test_id("run-result")
    expect(result).to_have_attribute("data-status", "succeeded", timeout=20_000)
    run_id = result.get_attribute("data-run-id")
    expect(page.get_by_test_id("run-link")).to_have_attribute("href", f"/runs/{run_id}")
    run = api.get(f"/api/runs/{run_id}/")
    assert (run["is_draft"], run["inputs"], run["outputs"]) == (True, {"amount": 80}, {"total": 160})

    page.get_by_test_id("run-open").click()
    expect(page).to_have_url(re.compile(rf"/runs/{run_id}$"))


def test_export_and_reimport_give_the_same_graph(page: Page, api: ApiClient, tmp_path: Any) -> None:
    workflow_id = create_workflow(api, chain_graph(), "Round trip")
    name = api.get(f"/api/workflows/{workflow_id}/")["name"]
    open_editor(page, workflow_id)

    with page.expect_download() as download_info:
        page.get_by_test_id("export").click()
    saved = tmp_path / "exported.flowdeck.json"
    download_info.value.save_as(saved)

    page.goto("/workflows")
    page.get_by_label("Workflow file to import").set_input_files(saved)
    expect(page.get_by_role("status").filter(has_text=f"Imported “{name}”.")).to_be_visible()
    copies = [
        item["id"] for item in api.get("/api/workflows/", search=name)["results"] if item["id"] != workflow_id
    ]
    assert len(copies) == 1

    open_editor(page, copies[0])
    for node_id in ("start", "double", "big", "done"):
        expect(node(page, node_id)).to_be_visible()
    assert draft(api, copies[0]) == draft(api, workflow_id)


def test_a_loop_holds_the_nodes_dropped_into_it_and_resizes(page: Page, api: ApiClient) -> None:
    workflow_id = create_workflow(api, chain_graph(), "Loop")
    open_editor(page, workflow_id)
    canvas = page.get_by_test_id("editor-canvas").bounding_box()
    assert canvas
    drop_from_palette(page, "loop", 120, 220)
    loop = node(page, "loop").bounding_box()
    assert loop
    drop_from_palette(
        page, "delay", loop["x"] - canvas["x"] + 60, loop["y"] - canvas["y"] + loop["height"] / 2
    )
    expect(node(page, "delay")).to_be_visible()
    wait_saved(page)
    by_id = {item["id"]: item for item in draft(api, workflow_id)["nodes"]}
    assert by_id["delay"]["parent"] == "loop"
    assert by_id["loop"]["size"] == {"width": 420, "height": 260}
    assert 0 < by_id["delay"]["position"]["x"] < 420 and 0 < by_id["delay"]["position"]["y"] < 260

    # The corner handle of the selected loop resizes it.
    select_node(page, "loop")
    corner = page.locator(".react-flow__node[data-id=loop] .react-flow__resize-control.handle.bottom.right")
    box = corner.bounding_box()
    assert box
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(box["x"] + 8 * step, box["y"] + 6 * step)
        page.wait_for_timeout(20)
    page.mouse.up()
    wait_saved(page)
    size = next(item for item in draft(api, workflow_id)["nodes"] if item["id"] == "loop")["size"]
    assert size["width"] > 420 and size["height"] > 260

    # Dragging the body node out of the loop takes it out of the body.
    drag_node(page, "delay", 0, -(loop["y"] - canvas["y"]) + 30)
    wait_saved(page)
    assert "parent" not in next(item for item in draft(api, workflow_id)["nodes"] if item["id"] == "delay")
    page.keyboard.press("Control+z")
    wait_saved(page)
    assert (
        next(item for item in draft(api, workflow_id)["nodes"] if item["id"] == "delay")["parent"] == "loop"
    )


def test_template_fields_complete_names_of_inputs_and_ancestors(page: Page, api: ApiClient) -> None:
    workflow_id = create_workflow(api, chain_graph(), "Autocomplete")
    open_editor(page, workflow_id)
    select_node(page, "done")
    field = page.get_by_test_id("field-outputs-value-0")
    field.fill("")
    field.press_sequentially("Total: {{ nodes.")
    options = page.get_by_test_id("autocomplete-option")
    expect(options.first).to_be_visible()
    offered = options.all_inner_texts()
    assert any(text.startswith("nodes.double.output.total") for text in offered)
    assert any(text.startswith("nodes.big.output.value") for text in offered)
    assert not any(text.startswith("nodes.done") for text in offered)
    field.press_sequentially("double.output.t")
    expect(options).to_have_count(1)
    field.press("Enter")
    field.press_sequentially(" }}")
    expect(field).to_have_value("Total: {{ nodes.double.output.total }}")

    select_node(page, "big")
    expression = page.get_by_test_id("field-expression")
    expression.fill("")
    expression.press_sequentially("inputs.")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("inputs.amount")
    wait_saved(page)
    outputs = next(item for item in draft(api, workflow_id)["nodes"] if item["id"] == "done")["config"]
    assert outputs == {"outputs": {"total": "Total: {{ nodes.double.output.total }}"}}


def test_a_save_conflict_is_shown_and_reloading_takes_the_other_version(page: Page, api: ApiClient) -> None:
    workflow_id = create_workflow(api, chain_graph(), "Conflict")
    open_editor(page, workflow_id)
    current = api.get(f"/api/workflows/{workflow_id}/")
    theirs = current["graph"]
    theirs["nodes"][1]["name"] = "Saved elsewhere"
    api.patch(f"/api/workflows/{workflow_id}/", {"graph": theirs, "revision": current["revision"]})

    select_node(page, "big")
    page.get_by_test_id("node-name-input").fill("Mine")
    status = page.get_by_test_id("save-status")
    expect(status).to_have_attribute("data-status", "conflict", timeout=SAVED_TIMEOUT_MS)
    assert draft(api, workflow_id) == theirs

    page.get_by_test_id("conflict-reload").click()
    expect(status).to_have_attribute("data-status", "saved")
    expect(node(page, "double")).to_contain_text("Saved elsewhere")
    expect(node(page, "big")).to_contain_text("Big?")


def test_publishing_an_invalid_draft_explains_why_and_creates_no_version(page: Page, api: ApiClient) -> None:
    graph = chain_graph()
    graph["nodes"][2]["config"]["expression"] = "nodes.double.output.total >"
    workflow_id = create_workflow(api, graph, "Invalid")
    open_editor(page, workflow_id)

    page.get_by_test_id("open-publish").click()
    page.get_by_test_id("publish-note").fill("should not publish")
    page.get_by_test_id("publish-submit").click()
    error = page.get_by_test_id("publish-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("expression")
    page.get_by_test_id("publish-dialog-close").click()
    expect(page.get_by_test_id("node-issues-big")).to_be_visible()
    assert api.get(f"/api/workflows/{workflow_id}/versions/")["count"] == 0

    page.get_by_test_id("open-run").click()
    page.get_by_test_id("run-input-amount").fill("1")
    page.get_by_test_id("run-submit").click()
    expect(page.get_by_test_id("run-error")).to_be_visible()
    assert api.get("/api/runs/", workflow=workflow_id)["count"] == 0


def test_the_editor_in_the_dark_theme(page: Page, api: ApiClient) -> None:
    workflow_id = create_workflow(api, chain_graph(), "Dark")
    open_editor(page, workflow_id)
    page.get_by_role("button", name="Switch to dark theme").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    select_node(page, "big")
    page.get_by_test_id("field-expression").fill("")
    expect(page.get_by_test_id("node-issues-big")).to_be_visible()
    background = page.get_by_test_id("node-big").evaluate(
        "(element) => getComputedStyle(element).backgroundColor"
    )
    assert background != "rgb(255, 255, 255)"


def test_opening_shows_the_servers_problems_and_the_unit_tests_use_its_registry(
    page: Page, api: ApiClient
) -> None:
    graph = chain_graph()
    graph["nodes"][2]["config"]["expression"] = "nodes.double.output.total >"
    workflow_id = create_workflow(api, graph, "Opened invalid")
    open_editor(page, workflow_id)
    # Only the server parses expressions: its check of the saved draft arrives after opening.
    expect(page.get_by_test_id("node-issues-big")).to_be_visible()
    expect(page.get_by_test_id("save-status")).to_have_attribute("data-status", "saved")

    # The front end's unit tests run against a copy of the registry; it must not drift.
    fixture = Path(__file__).resolve().parents[2] / "frontend/src/editor/testing/node-types.json"
    registry = [item for item in api.get("/api/node-types/") if item["type"] != "noop"]
    assert json.loads(fixture.read_text()) == registry


def test_copied_nodes_paste_into_another_workflow_in_another_tab(page: Page, api: ApiClient) -> None:
    source_id = create_workflow(api, chain_graph(), "Copy from")
    target_id = create_workflow(api, empty_graph(), "Paste into")
    open_editor(page, source_id)
    select_node(page, "double")
    node(page, "big").locator(".fd-node__name").click(modifiers=["Shift"])
    page.keyboard.press("Control+c")

    other = page.context.new_page()
    open_editor(other, target_id)
    other.get_by_test_id("editor-canvas").click(position={"x": 300, "y": 300})
    other.keyboard.press("Control+v")
    expect(node(other, "double")).to_be_visible()
    expect(node(other, "big")).to_be_visible()
    wait_saved(other)
    graph = draft(api, target_id)
    assert [item["id"] for item in graph["nodes"]] == ["double", "big"]
    assert graph["nodes"][1]["config"] == {"expression": "nodes.double.output.total > 100"}
    assert edge_set(graph) == {("double", "out", "big")}
    other.screenshot(path=str(ARTIFACTS_DIR / "test_copied_nodes_paste_into_another_workflow-target.png"))
    other.close()


def test_a_run_can_override_the_workflows_variables(page: Page, api: ApiClient) -> None:
    graph = chain_graph()
    graph["variables"] = [{"name": "limit", "type": "number", "default": 100}]
    graph["nodes"][2]["config"]["expression"] = "nodes.double.output.total > vars.limit"
    workflow_id = create_workflow(api, graph, "Variables")
    open_editor(page, workflow_id)
    expect(page.get_by_test_id("variable-name-0")).to_have_value("limit")

    page.get_by_test_id("open-run").click()
    page.get_by_test_id("run-input-amount").fill("80")
    page.get_by_text("Variables for this run").click()
    page.get_by_test_id("run-variable-limit").fill("500")
    page.get_by_test_id("run-submit").click()
    result = page.get_by_test_id("run-result")
    expect(result).to_have_attribute("data-status", "succeeded", timeout=20_000)
    # 160 is not above 500: the condition takes "false", where no end is connected.
    run = api.get(f"/api/runs/{result.get_attribute('data-run-id')}/")
    assert run["outputs"] is None
