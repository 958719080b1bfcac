"""The graph editor in a real browser: build, validate, undo/redo, copy/paste, layout, publish,
diff, run, export and re-import. Every graph is read back through the API, so the tests check what
the editor saved, not what it shows."""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import ApiClient, unique_name

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
    return {
        (edge["source"], edge.get("source_handle", "out"), edge["target"]) for edge in graph["edges"]
    }


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
