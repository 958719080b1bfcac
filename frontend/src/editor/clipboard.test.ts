import { describe, expect, it } from "vitest";

import { clipboardText, copySelection, parseClipboardText, pasteContent } from "./clipboard";
import { toFlow, toGraph } from "./mapping";
import { chainGraph, loopGraph, REGISTRY } from "./testing/fixtures";

const registry = Object.fromEntries(REGISTRY.map((info) => [info.type, info]));

describe("system clipboard", () => {
  it("carries a selection as graph JSON and reads it back", () => {
    const { nodes, edges } = toFlow(loopGraph());
    const content = copySelection(
      nodes.map((node) => (node.id === "each" ? { ...node, selected: true } : node)),
      edges,
    );
    expect(content?.nodes.map((node) => node.id)).toEqual(["each", "shape", "wait"]);
    const text = clipboardText(content!);
    const payload = JSON.parse(text);
    expect(payload.format).toBe("flowdeck.nodes");
    expect(payload.nodes[1]).toEqual(loopGraph().nodes[2]);
    const back = parseClipboardText(text);
    expect(toGraph(back!.nodes, back!.edges, { schema_version: 1 })).toEqual(toGraph(content!.nodes, content!.edges, { schema_version: 1 }));
  });

  it("ignores text that is not a copy of nodes", () => {
    expect(parseClipboardText("hello")).toBeNull();
    expect(parseClipboardText(JSON.stringify({ format: "other", nodes: [], edges: [] }))).toBeNull();
    expect(parseClipboardText(JSON.stringify({ format: "flowdeck.nodes", nodes: [], edges: [] }))).toBeNull();
  });

  it("pastes another workflow's nodes with fresh ids and drops parents it does not have", () => {
    const other = toFlow(loopGraph());
    const content = copySelection(
      other.nodes.map((node) => (node.id === "shape" || node.id === "start" ? { ...node, selected: true } : node)),
      other.edges,
    )!;
    const here = toFlow(chainGraph());
    const pasted = pasteContent(parseClipboardText(clipboardText(content))!, here.nodes, here.edges, registry);
    expect(pasted.nodes.map((node) => [node.id, node.parentId])).toEqual([
      ["start_2", undefined],
      ["shape", undefined],
    ]);
    expect(pasted.nodes[1]?.data.spec.config).toEqual({ mapping: { item: "loop.item", first: "nodes.start_2.output.items[0]" } });
  });
});
