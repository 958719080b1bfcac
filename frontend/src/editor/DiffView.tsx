import { Background, Controls, Handle, MiniMap, Position, ReactFlow, ReactFlowProvider, type EdgeProps, type NodeProps, BaseEdge, getBezierPath, type Edge, type Node } from "@xyflow/react";
import { memo, useEffect, useMemo, useState } from "react";

import { ApiError } from "../api";
import { fetchVersion, type GraphDocument } from "../api/editor";
import { Dialog } from "./Dialog";
import { diffGraphs, edgeKey, unionGraph, type DiffStatus } from "./diff";
import { parentsFirst } from "./mapping";
import { currentGraph, useEditorStore } from "./store";

type DiffNodeData = { label: string; type: string; status: DiffStatus; fields: string[]; container: boolean };
type DiffNode = Node<DiffNodeData>;
type DiffEdge = Edge<{ status: DiffStatus }>;

const DiffNodeView = memo(function DiffNodeView({ id, data }: NodeProps<DiffNode>) {
  return (
    <div className={`fd-diff-node fd-diff--${data.status}${data.container ? " fd-diff-node--loop" : ""}`} data-testid={`diff-node-${id}`} data-diff-status={data.status}>
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <div className="fd-node__type">
        {data.type} · {data.status}
      </div>
      <div className="fd-node__name">{data.label}</div>
      {data.fields.length > 0 && <div className="fd-node__summary">changed: {data.fields.join(", ")}</div>}
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
});

const DiffEdgeView = memo(function DiffEdgeView({ id, sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, data }: EdgeProps<DiffEdge>) {
  const [path] = getBezierPath({ sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition });
  return (
    <g className={`fd-diff-edge fd-diff--${data?.status ?? "unchanged"}`} data-testid={`diff-edge-${id}`} data-diff-status={data?.status}>
      <BaseEdge id={id} path={path} />
    </g>
  );
});

const diffNodeTypes = { diff: DiffNodeView };
const MINIMAP_COLORS: Record<DiffStatus, string> = { added: "#16a34a", removed: "#dc2626", changed: "#d97706", unchanged: "#cbd5e1" };
const diffEdgeTypes = { diff: DiffEdgeView };

export type VersionRef = number | "draft";

async function loadGraph(workflowId: number, ref: VersionRef): Promise<GraphDocument> {
  if (ref === "draft") return currentGraph(useEditorStore.getState());
  return (await fetchVersion(workflowId, ref)).graph;
}

function label(ref: VersionRef): string {
  return ref === "draft" ? "the draft" : `version ${ref}`;
}

/** A read-only canvas of both versions, added, removed and changed elements highlighted. */
export function DiffView({ workflowId, from, to, onClose }: { workflowId: number; from: VersionRef; to: VersionRef; onClose: () => void }) {
  const [graphs, setGraphs] = useState<{ before: GraphDocument; after: GraphDocument } | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    Promise.all([loadGraph(workflowId, from), loadGraph(workflowId, to)])
      .then(([before, after]) => !cancelled && setGraphs({ before, after }))
      .catch((caught: unknown) => !cancelled && setError(caught instanceof ApiError ? caught.detail : "Could not load the versions."));
    return () => {
      cancelled = true;
    };
  }, [workflowId, from, to]);

  const view = useMemo(() => {
    if (!graphs) return null;
    const diff = diffGraphs(graphs.before, graphs.after);
    const union = unionGraph(graphs.before, graphs.after);
    const present = new Set(union.nodes.map((node) => node.id));
    const nodes: DiffNode[] = parentsFirst(union.nodes).map((node, index) => {
      const result: DiffNode = {
        id: node.id,
        type: "diff",
        position: node.position ?? { x: (index % 8) * 260, y: Math.floor(index / 8) * 140 },
        data: { label: node.name ?? node.id, type: node.type, status: diff.nodes.get(node.id) ?? "unchanged", fields: diff.changedFields.get(node.id) ?? [], container: node.type === "loop" },
        draggable: false,
        connectable: false,
      };
      if (node.parent && present.has(node.parent)) result.parentId = node.parent;
      if (node.size) {
        result.width = node.size.width;
        result.height = node.size.height;
      }
      return result;
    });
    const edges: DiffEdge[] = union.edges.map((edge) => {
      const key = edgeKey(edge);
      return { id: key.replaceAll("|", "-"), source: edge.source, target: edge.target, type: "diff", data: { status: diff.edges.get(key) ?? "unchanged" } };
    });
    const counts = { added: 0, removed: 0, changed: 0 };
    for (const status of diff.nodes.values()) if (status !== "unchanged") counts[status] += 1;
    const edgeCounts = { added: 0, removed: 0 };
    for (const status of diff.edges.values()) if (status === "added" || status === "removed") edgeCounts[status] += 1;
    return { nodes, edges, counts, edgeCounts, diff };
  }, [graphs]);

  return (
    <Dialog title={`Changes from ${label(from)} to ${label(to)}`} onClose={onClose} testId="diff-view" wide>
      {error && <p className="notice notice--error">{error}</p>}
      {!view && !error && <p className="loading">Loading…</p>}
      {view && (
        <>
          <p className="fd-diff__summary" data-testid="diff-summary">
            Nodes: <span className="fd-diff--added">{view.counts.added} added</span>, <span className="fd-diff--removed">{view.counts.removed} removed</span>,{" "}
            <span className="fd-diff--changed">{view.counts.changed} changed</span>. Edges: {view.edgeCounts.added} added, {view.edgeCounts.removed} removed.
            {view.diff.variablesChanged && " Variables changed."}
          </p>
          <div className="fd-diff__canvas">
            <ReactFlowProvider>
              <ReactFlow nodes={view.nodes} edges={view.edges} nodeTypes={diffNodeTypes} edgeTypes={diffEdgeTypes} nodesDraggable={false} nodesConnectable={false} elementsSelectable={false} fitView minZoom={0.05} proOptions={{ hideAttribution: true }}>
                <Background gap={16} />
                <Controls showInteractive={false} />
                <MiniMap pannable zoomable nodeColor={(node) => MINIMAP_COLORS[(node.data as DiffNodeData).status]} />
              </ReactFlow>
            </ReactFlowProvider>
          </div>
        </>
      )}
    </Dialog>
  );
}
