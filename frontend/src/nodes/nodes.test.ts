import { beforeEach, describe, expect, it } from "vitest";

import type { WorkflowDetail } from "../api/editor";
import { checkConfig } from "../editor/checks";
import { currentGraph, useEditorStore } from "../editor/store";
import { REGISTRY } from "../editor/testing/fixtures";
import { NODE_DEFAULTS } from "./defaults";
import { NODE_COMPONENTS, nodeTypes, panelFor } from "./index";

const store = () => useEditorStore.getState();

beforeEach(() => {
  store().load({ id: 1, name: "Types", role: "owner", revision: 1, active_version: null, graph: { schema_version: 1, nodes: [], edges: [] } } as unknown as WorkflowDetail, REGISTRY);
});

describe("node types", () => {
  it("have a folder (card, panel, defaults) for every type the server registers", () => {
    for (const info of REGISTRY) {
      expect(NODE_COMPONENTS[info.type], info.type).toBeDefined();
      expect(NODE_DEFAULTS[info.type], info.type).toBeDefined();
      expect(nodeTypes[info.type], info.type).toBe(NODE_COMPONENTS[info.type]?.Node);
      expect(panelFor(info.type)).toBe(NODE_COMPONENTS[info.type]?.Panel);
    }
    expect(nodeTypes.default).toBeDefined();
  });

  it.each(REGISTRY.map((info) => [info.type]))("%s starts with a config its schema accepts, and a summary", (type) => {
    const id = store().addNode(type, { x: 0, y: 0 });
    const node = store().nodes.find((item) => item.id === id);
    expect(node).toBeDefined();
    const info = REGISTRY.find((item) => item.type === type)!;
    // Only emptiness may be wrong with a fresh node: the designer has yet to fill it in.
    const problems = checkConfig(node!, info).filter((issue) => issue.code !== "missing_field");
    expect(problems).toEqual([]);
    expect(typeof NODE_DEFAULTS[type]?.summary(node!.data.spec)).toBe("string");
    expect(currentGraph(store()).nodes[0]).toMatchObject({ id, type, position: { x: 0, y: 0 } });
  });

  it("check what the schema cannot say", () => {
    const check = (type: string, config: Record<string, unknown>, incomingCount = 0) =>
      (NODE_DEFAULTS[type]?.check?.({ type, config: config as never }, { nodeId: "n", info: undefined, incomingCount }) ?? []).map((issue) => `${issue.code}:${issue.path ?? ""}`);
    expect(check("delay", {})).toEqual(["delay_needs_duration:config.seconds"]);
    expect(check("delay", { until: "inputs.at" })).toEqual([]);
    expect(check("prompt", { prompt: "x", provider: "openai" })).toEqual(["prompt_needs_model:config.agent"]);
    expect(check("prompt", { prompt: "x", agent: "triage" })).toEqual([]);
    expect(check("join", { mode: "count", count: 3 }, 2)).toEqual(["join_count_out_of_range:config.count"]);
    expect(check("join", { mode: "all" }, 1)).toEqual(["join_too_few_inputs:"]);
    expect(check("transform", { mapping: { a: "" } })).toEqual(["missing_field:config.mapping.a"]);
    expect(check("http", { url: "ftp://x" })).toEqual(["invalid_value:config.url"]);
    expect(check("http", { url: "{{ inputs.url }}" })).toEqual([]);
    expect(check("start", { input_schema: [] })).toEqual(["invalid_json_schema:config.input_schema"]);
  });
});
