import { beforeEach, describe, expect, it } from "vitest";

import type { GraphDocument, WorkflowDetail } from "../api/editor";
import { absoluteBoxes } from "./layout";
import { currentGraph, useEditorStore } from "./store";
import { chainGraph, loopGraph, REGISTRY } from "./testing/fixtures";

function workflow(graph: GraphDocument): WorkflowDetail {
  return {
    id: 7,
    name: "Test",
    description: "",
    tags: [],
    owner: "ada",
    role: "owner",
    revision: 3,
    active_version: null,
    is_archived: false,
    archived_at: null,
    max_concurrent_runs: null,
    timeout_s: null,
    created_at: "2026-01-01T00:00:00Z",
    updated_at: "2026-01-01T00:00:00Z",
    graph,
    grants: [],
  };
}

const store = () => useEditorStore.getState();
const graph = () => currentGraph(store());
const ids = () => store().nodes.map((node) => node.id);

function select(...nodeIds: string[]) {
  store().selectOnly(nodeIds);
}

beforeEach(() => {
  store().load(workflow(chainGraph()), REGISTRY);
});

describe("editor store", () => {
  it("loads a workflow unchanged and unsaved-change free", () => {
    expect(graph()).toStrictEqual(chainGraph());
    expect([store().revision, store().saveStatus, store().changeCount]).toEqual([3, "saved", 0]);
    expect(store().issues).toEqual([]);
  });

  it("adds nodes with the registry's defaults, the type's own start config and fresh ids", () => {
    const first = store().addNode("condition", { x: 10.4, y: 20.6 });
    const second = store().addNode("condition", { x: 0, y: 0 });
    const loop = store().addNode("loop", { x: 0, y: 0 });
    expect([first, second, loop]).toEqual(["condition", "condition_2", "loop"]);
    const added = graph().nodes.find((node) => node.id === "condition");
    expect(added).toEqual({ id: "condition", type: "condition", name: "Condition", position: { x: 10, y: 21 }, config: { expression: "" } });
    expect(graph().nodes.find((node) => node.id === "condition_2")?.name).toBe("Condition 2");
    expect(graph().nodes.find((node) => node.id === "loop")).toMatchObject({ size: { width: 420, height: 260 }, config: { mode: "for_each", max_iterations: 100, concurrency: 1, items: "" } });
    expect(store().saveStatus).toBe("pending");
    expect(store().issuesByNode.condition?.messages).toEqual(expect.arrayContaining([expect.stringContaining("needs a value for Expression")]));
  });

  it("puts a node dropped in a loop into its body, but never a start or end", () => {
    store().load(workflow(loopGraph()), REGISTRY);
    store().addNode("transform", { x: 10, y: 10 }, "each");
    store().addNode("end", { x: 10, y: 10 }, "each");
    expect(graph().nodes.find((node) => node.id === "transform")?.parent).toBe("each");
    expect(graph().nodes.find((node) => node.id === "end")?.parent).toBeUndefined();
  });

  it("refuses connections the graph rules forbid", () => {
    const problem = (source: string, sourceHandle: string, target: string) => store().connectionProblem({ source, sourceHandle, target, targetHandle: "in" });
    expect(problem("double", "out", "double")).toMatch(/itself/);
    expect(problem("big", "maybe", "done")).toMatch(/no handle/);
    expect(problem("done", "out", "start")).not.toBeNull();
    expect(problem("double", "out", "big")).toMatch(/already connected/);
    expect(problem("big", "false", "double")).toMatch(/cycle/);
    expect(problem("big", "false", "done")).toBeNull();
    expect(store().connect({ source: "big", sourceHandle: "false", target: "done", targetHandle: "in" })).toBe(true);
    expect(graph().edges.at(-1)).toEqual({ id: "e4", source: "big", source_handle: "false", target: "done" });

    store().load(workflow(loopGraph()), REGISTRY);
    expect(problem("start", "out", "shape")).toMatch(/loop boundary/);
    store().addNode("join", { x: 0, y: 0 });
    expect(store().connect({ source: "start", sourceHandle: "out", target: "join", targetHandle: "in" })).toBe(true);
    expect(problem("start", "out", "join")).toMatch(/already connected/);
  });

  it("undoes and redoes every kind of edit back to the exact same graph", () => {
    const states = [graph()];
    store().addNode("delay", { x: 50, y: 50 });
    states.push(graph());
    store().connect({ source: "big", sourceHandle: "false", target: "delay", targetHandle: "in" });
    states.push(graph());
    store().updateSpec("double", { config: { mapping: { total: "inputs.amount * 3" } } }, "config.mapping");
    states.push(graph());
    select("big");
    store().deleteSelection();
    states.push(graph());
    store().autoLayout();
    states.push(graph());

    for (let index = states.length - 2; index >= 0; index -= 1) {
      store().undo();
      expect(graph()).toStrictEqual(states[index]);
    }
    store().undo();
    expect(graph()).toStrictEqual(states[0]);
    for (let index = 1; index < states.length; index += 1) {
      store().redo();
      expect(graph()).toStrictEqual(states[index]);
    }
    store().undo();
    store().addNode("end", { x: 0, y: 0 });
    expect(store().future).toEqual([]);
  });

  it("makes one undo step of quick keystrokes in one field", () => {
    const before = graph();
    for (const text of ["n", "no", "nod", "node"]) store().updateSpec("big", { name: text }, "name");
    store().updateSpec("big", { notes: "x" }, "notes");
    store().undo();
    expect(graph().nodes.find((node) => node.id === "big")?.name).toBe("node");
    store().undo();
    expect(graph()).toStrictEqual(before);
  });

  it("records one undo step per drag, however many moves it has", () => {
    const before = graph();
    store().beginGesture();
    for (let step = 1; step <= 5; step += 1) store().onNodesChange([{ type: "position", id: "double", position: { x: 300 + step * 10.3, y: step }, dragging: true }]);
    expect(graph().nodes.find((node) => node.id === "double")?.position).toEqual({ x: 352, y: 5 });
    store().undo();
    expect(graph()).toStrictEqual(before);
  });

  it("deletes selected edges alone, and keeps their nodes", () => {
    store().onEdgesChange([{ type: "select", id: "e2", selected: true }]);
    store().deleteSelection();
    expect(ids()).toEqual(["start", "double", "big", "done"]);
    expect(graph().edges.map((edge) => edge.id)).toEqual(["e1", "e3"]);
    expect(store().issuesByNode.big?.messages).toEqual(["Big? is not reachable from the start.", "'double' does not always run before Big?."]);
  });

  it("moves a node into and out of a loop, dropping edges that would cross its boundary", () => {
    store().load(workflow(loopGraph()), REGISTRY);
    store().beginGesture();
    store().moveIntoParent("wait", undefined, { x: 700, y: 400 });
    expect(graph().nodes.find((node) => node.id === "wait")).toMatchObject({ position: { x: 700, y: 400 } });
    expect(graph().nodes.find((node) => node.id === "wait")).not.toHaveProperty("parent");
    expect(graph().edges.map((edge) => edge.id)).toEqual(["e1", "e3"]);
    store().undo();
    expect(graph()).toStrictEqual(loopGraph());
  });

  it("deletes a loop with its body and every edge that touched them", () => {
    store().load(workflow(loopGraph()), REGISTRY);
    select("each");
    store().deleteSelection();
    expect(ids()).toEqual(["start", "finish"]);
    expect(graph().edges).toEqual([]);
  });

  it("pastes copies with new ids whose references point at the other copies", () => {
    select("double", "big");
    expect(store().copy()).toBe(true);
    const pasted = store().paste();
    expect(pasted).toEqual(["double_2", "big_2"]);
    const nodes = Object.fromEntries(graph().nodes.map((node) => [node.id, node]));
    expect(nodes.big_2?.config).toEqual({ expression: "nodes.double_2.output.total > vars.limit" });
    expect(nodes.big?.config).toEqual({ expression: "nodes.double.output.total > vars.limit" });
    expect(nodes.double_2?.position).toEqual({ x: 340, y: 40 });
    expect(graph().edges.slice(3)).toEqual([{ id: "e4", source: "double_2", target: "big_2", source_handle: "out" }]);
    // Pasting again gives yet other ids, one step further.
    expect(store().paste()).toEqual(["double_3", "big_3"]);
    expect(graph().nodes.find((node) => node.id === "double_3")?.position).toEqual({ x: 380, y: 80 });
  });

  it("copies a loop with its body and rewrites loop references", () => {
    store().load(workflow(loopGraph()), REGISTRY);
    store().updateSpec("shape", { config: { mapping: { item: "loops.each.item" } } });
    select("each");
    store().copy();
    expect(store().paste()).toEqual(["each_2", "shape_2", "wait_2"]);
    const nodes = Object.fromEntries(graph().nodes.map((node) => [node.id, node]));
    expect(nodes.shape_2).toMatchObject({ parent: "each_2", position: { x: 40, y: 60 }, config: { mapping: { item: "loops.each_2.item" } } });
    expect(graph().edges.at(-1)).toEqual({ id: "e4", source: "shape_2", target: "wait_2", data: undefined });
  });

  it("renames a node and every reference to it", () => {
    expect(store().renameNode("double", "Bad Id")).toMatch(/lowercase/);
    expect(store().renameNode("double", "big")).toMatch(/taken/);
    expect(store().renameNode("double", "twice")).toBeNull();
    const nodes = Object.fromEntries(graph().nodes.map((node) => [node.id, node]));
    expect(nodes.big?.config).toEqual({ expression: "nodes.twice.output.total > vars.limit" });
    expect(graph().edges.map((edge) => [edge.source, edge.target])).toEqual([
      ["start", "twice"],
      ["twice", "big"],
      ["big", "done"],
    ]);
  });

  it("lays out without overlaps", () => {
    store().load(workflow({ ...chainGraph(), nodes: chainGraph().nodes.map((node) => ({ ...node, position: { x: 0, y: 0 } })) }), REGISTRY);
    store().autoLayout();
    const boxes = [...absoluteBoxes(store().nodes).values()];
    for (const [index, a] of boxes.entries()) {
      for (const b of boxes.slice(index + 1)) {
        const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
        expect(apart).toBe(true);
      }
    }
  });

  it("shows server issues until the node they name is edited", () => {
    store().setServerIssues([{ code: "invalid_expression", message: "Bad syntax", node_id: "big", path: "config.expression" }]);
    expect(store().issuesByNode.big).toEqual({ count: 1, messages: ["Bad syntax"] });
    store().updateSpec("double", { name: "Twice" }, "name");
    expect(store().issuesByNode.big).toBeDefined();
    store().updateSpec("big", { config: { expression: "nodes.double.output.total > 1" } }, "config.expression");
    expect(store().issuesByNode.big).toBeUndefined();
    // A save that answers after later edits does not bring stale issues back.
    const sent = store().changeCount - 1;
    store().markSaved(4, sent, [{ code: "invalid_expression", message: "Bad syntax", node_id: "big" }]);
    expect([store().revision, store().saveStatus, store().issuesByNode.big]).toEqual([4, "pending", undefined]);
    store().markSaved(5, store().changeCount, []);
    expect([store().revision, store().saveStatus]).toEqual([5, "saved"]);
  });
});
