import { Background, Controls, MarkerType, ReactFlow, type DefaultEdgeOptions } from "@xyflow/react";
import { useMemo } from "react";

import { toFlow, type FlowEdge, type FlowNode } from "../../editor/mapping";
import { edgeState } from "../../live/derive";
import { runNodeTypes } from "./RunNodes";
import { scopeOf, useRunView } from "./runViewStore";

const defaultEdgeOptions: DefaultEdgeOptions = { markerEnd: { type: MarkerType.ArrowClosed, width: 18, height: 18 } };
const proOptions = { hideAttribution: true };
const fitViewOptions = { padding: 0.15, maxZoom: 1 };

/** The run's graph, read-only: cards show live states, taken edges are solid, active ones move. */
export function RunGraph() {
  const graph = useRunView((state) => state.graph);
  const live = useRunView((state) => state.live);
  const parentOf = useRunView((state) => state.parentOf);
  const selectedPass = useRunView((state) => state.selectedPass);
  const select = useRunView((state) => state.select);

  const base = useMemo(() => {
    if (!graph) return { nodes: [] as FlowNode[], edges: [] as FlowEdge[] };
    const flow = toFlow(graph);
    const nodes = flow.nodes.map((node) => ({
      ...node,
      type: node.data.spec.type === "loop" ? "runLoop" : "runNode",
      draggable: false,
      connectable: false,
      selectable: true,
    }));
    return { nodes, edges: flow.edges };
  }, [graph]);

  const edges = useMemo(() => {
    if (!graph) return [];
    const byId = new Map(graph.edges.map((edge) => [edge.id, edge]));
    return base.edges.map((edge): FlowEdge => {
      const source = byId.get(edge.id);
      const scope = scopeOf(edge.source, parentOf, selectedPass);
      const state = source && scope !== null ? edgeState(live, source, scope) : "idle";
      return { ...edge, animated: state === "active", className: `run-edge run-edge--${state}`, selectable: false, focusable: false };
    });
  }, [graph, base.edges, live, parentOf, selectedPass]);

  return (
    <div className="fd-canvas run-canvas" data-testid="run-canvas">
      <ReactFlow<FlowNode, FlowEdge>
        nodes={base.nodes}
        edges={edges}
        nodeTypes={runNodeTypes}
        defaultEdgeOptions={defaultEdgeOptions}
        nodesDraggable={false}
        nodesConnectable={false}
        elementsSelectable={false}
        deleteKeyCode={null}
        onNodeClick={(_event, node) => {
          // A body node is shown in one pass: without a pass picked yet, its loops show their first.
          let state = useRunView.getState();
          for (let loopId = state.parentOf[node.id]; loopId !== undefined; loopId = state.parentOf[loopId]) {
            if (state.selectedPass[loopId] === undefined || state.selectedPass[loopId] === null) state.selectPass(loopId, 0);
          }
          state = useRunView.getState();
          select({ nodeId: node.id, scope: scopeOf(node.id, state.parentOf, state.selectedPass) ?? "" });
        }}
        onPaneClick={() => select(null)}
        fitView
        fitViewOptions={fitViewOptions}
        minZoom={0.05}
        maxZoom={2}
        proOptions={proOptions}
      >
        <Background gap={16} />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
