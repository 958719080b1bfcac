import { describe, expect, it } from "vitest";

import type { GraphDocument } from "../api/editor";
import { checkGraph } from "./checks";
import { toFlow } from "./mapping";
import { chainGraph, loopGraph, REGISTRY } from "./testing/fixtures";

const registry = Object.fromEntries(REGISTRY.map((info) => [info.type, info]));

function codes(graph: GraphDocument): string[] {
  const { nodes, edges } = toFlow(graph);
  return checkGraph(nodes, edges, registry).map((issue) => `${issue.code}@${issue.edge_id ?? issue.node_id ?? ""}${issue.path ? `:${issue.path}` : ""}`);
}

function withNode(graph: GraphDocument, id: string, patch: Record<string, unknown>): GraphDocument {
  return { ...graph, nodes: graph.nodes.map((node) => (node.id === id ? { ...node, ...patch } : node)) };
}

describe("cheap checks", () => {
  it("find nothing wrong with valid graphs", () => {
    expect(codes(chainGraph())).toEqual([]);
    expect(codes(loopGraph())).toEqual([]);
  });

  it("need a condition's expression, and stop needing it once typed", () => {
    expect(codes(withNode(chainGraph(), "big", { config: { expression: "" } }))).toEqual(["missing_field@big:config.expression"]);
    expect(codes(withNode(chainGraph(), "big", { config: { expression: " " } }))).toEqual(["missing_field@big:config.expression"]);
  });

  it("apply the loop's mode rules from the schema's if/then", () => {
    const counted = withNode(loopGraph(), "each", { config: { mode: "count", max_iterations: 10 } });
    expect(codes(counted)).toEqual(["missing_field@each:config.count"]);
    const tooMany = withNode(loopGraph(), "each", { config: { mode: "count", count: 3, max_iterations: 20_000 } });
    expect(codes(tooMany)).toEqual(["invalid_value@each:config.max_iterations"]);
  });

  it("run the per-type checks", () => {
    const base = chainGraph();
    const delay = { id: "pause", type: "delay", position: { x: 0, y: 0 }, config: { seconds: 1, until: "inputs.when" } };
    const prompt = { id: "ask", type: "prompt", position: { x: 0, y: 0 }, config: { prompt: "Hi" } };
    const cases = [
      { handle: "a", expression: "true" },
      { handle: "a", expression: "false" },
      { handle: "default", expression: "true" },
    ];
    const switchNode = { id: "route", type: "switch", position: { x: 0, y: 0 }, config: { cases } };
    const join = { id: "meet", type: "join", position: { x: 0, y: 0 }, config: { mode: "all" } };
    const graph: GraphDocument = {
      ...base,
      nodes: [...base.nodes, delay, prompt, switchNode, join],
      edges: [...base.edges, { id: "x1", source: "start", target: "pause" }, { id: "x2", source: "start", target: "ask" }, { id: "x3", source: "start", target: "route" }, { id: "x4", source: "pause", target: "meet" }],
    };
    const found = codes(graph);
    expect(found).toContain("delay_needs_duration@pause:config.seconds");
    expect(found).toContain("prompt_needs_model@ask:config.agent");
    expect(found).toContain("duplicate_handle@route:config.cases.1.handle");
    expect(found).toContain("reserved_handle@route:config.cases.2.handle");
    expect(found).toContain("join_too_few_inputs@meet");
  });

  it("check edges: handles, self edges, the start, loop boundaries, cycles", () => {
    const graph = chainGraph();
    graph.edges.push({ id: "bad_handle", source: "big", source_handle: "maybe", target: "done" });
    graph.edges.push({ id: "self", source: "double", target: "double" });
    graph.edges.push({ id: "into_start", source: "done", target: "start" });
    const found = codes(graph);
    expect(found).toContain("unknown_handle@bad_handle");
    expect(found).toContain("self_edge@self");
    expect(found).toContain("edge_into_start@into_start");
    expect(found.filter((code) => code.startsWith("cycle@"))).toHaveLength(4);

    const crossing = loopGraph();
    crossing.edges.push({ id: "across", source: "start", target: "shape" });
    expect(codes(crossing)).toEqual(["edge_crosses_loop@across"]);
  });

  it("check graph-level rules and references", () => {
    const noEnd = { ...chainGraph(), nodes: chainGraph().nodes.filter((node) => node.id !== "done"), edges: chainGraph().edges.filter((edge) => edge.target !== "done") };
    expect(codes(noEnd)).toEqual(["missing_end@"]);
    const unreachable = chainGraph();
    unreachable.edges = unreachable.edges.filter((edge) => edge.id !== "e1");
    expect(codes(unreachable)).toEqual(["unreachable_node@double", "unreachable_node@big", "unreachable_node@done"]);
    const forward = withNode(chainGraph(), "double", { config: { mapping: { total: "nodes.big.output.value", other: "nodes.ghost.output" } } });
    expect(codes(forward)).toEqual(["ref_not_upstream@double:config.mapping.total", "unknown_node_ref@double:config.mapping.other"]);
    const retried = withNode(chainGraph(), "double", { retry: { max_attempts: 2 }, on_error: "branch" });
    expect(codes(retried)).toEqual(["missing_error_edge@double:on_error", "retry_not_allowed@double:retry"]);
  });
});
