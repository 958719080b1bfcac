import type { GraphDocument, NodeTypeInfo } from "../../api/editor";
import registryJson from "./node-types.json";

/**
 * The server's registry as `GET /api/node-types/` answered it, so unit tests run against the real
 * schemas. Regenerate after changing workflows/node_types.py:
 *   python -c "import json; from workflows.node_types import describe_node_types; print(json.dumps(describe_node_types(), indent=1))"
 */
export const REGISTRY = registryJson as unknown as NodeTypeInfo[];

/** start → transform → condition → end, valid, with layout, variables and an annotation. */
export function chainGraph(): GraphDocument {
  return {
    schema_version: 1,
    variables: [{ name: "limit", type: "number", default: 100 }],
    annotations: [{ id: "note_1", text: "Doubles the amount", position: { x: 0, y: -120 } }],
    nodes: [
      {
        id: "start",
        type: "start",
        name: "Start",
        position: { x: 0, y: 0 },
        config: { input_schema: { type: "object", properties: { amount: { type: "number" } }, required: ["amount"] } },
      },
      { id: "double", type: "transform", name: "Double", position: { x: 300, y: 0 }, config: { mapping: { total: "inputs.amount * 2" } } },
      { id: "big", type: "condition", name: "Big?", position: { x: 600, y: 0 }, config: { expression: "nodes.double.output.total > vars.limit" } },
      { id: "done", type: "end", position: { x: 900, y: 0 }, config: { outputs: { total: "{{ nodes.double.output.total }}" } } },
    ],
    edges: [
      { id: "e1", source: "start", target: "double" },
      { id: "e2", source: "double", target: "big", source_handle: "out" },
      { id: "e3", source: "big", source_handle: "true", target: "done" },
    ],
  };
}

/** A loop over the inputs' items whose two-node body refers to the loop and the start. */
export function loopGraph(): GraphDocument {
  return {
    schema_version: 1,
    nodes: [
      { id: "start", type: "start", position: { x: 0, y: 0 }, config: { input_schema: { type: "object", properties: { items: { type: "array" } } } } },
      {
        id: "each",
        type: "loop",
        name: "Each item",
        position: { x: 300, y: 0 },
        size: { width: 600, height: 260 },
        config: { mode: "for_each", items: "inputs.items", max_iterations: 100, concurrency: 1 },
      },
      { id: "shape", type: "transform", parent: "each", position: { x: 40, y: 60 }, config: { mapping: { item: "loop.item", first: "nodes.start.output.items[0]" } } },
      { id: "wait", type: "delay", parent: "each", position: { x: 320, y: 60 }, config: { seconds: 1 }, retry: { max_attempts: 3, backoff_s: 1 }, timeout_s: 30, on_error: "continue", notes: "short pause" },
      { id: "finish", type: "end", position: { x: 1000, y: 0 }, disabled: false },
    ],
    edges: [
      { id: "e1", source: "start", target: "each" },
      { id: "e2", source: "shape", target: "wait" },
      { id: "e3", source: "each", target: "finish" },
    ],
  };
}
