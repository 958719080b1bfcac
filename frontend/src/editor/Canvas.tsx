import {
  Background,
  Controls,
  MarkerType,
  MiniMap,
  ReactFlow,
  useReactFlow,
  type Connection,
  type DefaultEdgeOptions,
  type IsValidConnection,
  type OnNodeDrag,
} from "@xyflow/react";
import { useCallback, useState, type DragEvent } from "react";

import { nodeTypes } from "../nodes";
import { edgeTypes } from "./FlowEdgeView";
import type { FlowEdge, FlowNode } from "./mapping";
import { useEditorStore } from "./store";

export const PALETTE_MIME = "application/x-flowdeck-node-type";

const defaultEdgeOptions: DefaultEdgeOptions = { type: "flow", markerEnd: { type: MarkerType.ArrowClosed, width: 18, height: 18 } };
const proOptions = { hideAttribution: true };
const multiSelectKeys = ["Meta", "Control", "Shift"];
const fitViewOptions = { padding: 0.15, maxZoom: 1 };
const DROP_GRAB = { x: 24, y: 16 };

type Box = { x: number; y: number; width: number; height: number };

/** Above this many nodes the canvas opens on the start node and renders only what is in view. */
export const LARGE_GRAPH = 150;
const LARGE_GRAPH_ZOOM = 0.75;

export function openingView(nodes: FlowNode[]): { fit: boolean; large: boolean; viewport?: { x: number; y: number; zoom: number } } {
  if (nodes.length === 0) return { fit: false, large: false };
  if (nodes.length <= LARGE_GRAPH) return { fit: true, large: false };
  const start = nodes.find((node) => node.data.spec.type === "start" && node.parentId === undefined) ?? nodes[0];
  const { x, y } = start?.position ?? { x: 0, y: 0 };
  return { fit: false, large: true, viewport: { x: 48 - x * LARGE_GRAPH_ZOOM, y: 240 - y * LARGE_GRAPH_ZOOM, zoom: LARGE_GRAPH_ZOOM } };
}

/** The innermost loop whose box contains `point`, skipping `excluded` and its descendants. */
export function loopAt(point: { x: number; y: number }, boxes: { id: string; box: Box; depth: number }[]): string | undefined {
  let found: { id: string; depth: number } | undefined;
  for (const { id, box, depth } of boxes) {
    if (point.x >= box.x && point.x <= box.x + box.width && point.y >= box.y && point.y <= box.y + box.height) {
      if (!found || depth > found.depth) found = { id, depth };
    }
  }
  return found?.id;
}

export function Canvas({ readOnly = false, onNodeClick }: { readOnly?: boolean; onNodeClick?: () => void }) {
  const nodes = useEditorStore((state) => state.nodes);
  const edges = useEditorStore((state) => state.edges);
  const onNodesChange = useEditorStore((state) => state.onNodesChange);
  const onEdgesChange = useEditorStore((state) => state.onEdgesChange);
  const beginGesture = useEditorStore((state) => state.beginGesture);
  const flow = useReactFlow<FlowNode, FlowEdge>();
  // How the view opens: a small graph is fitted; an empty canvas keeps zoom 1 so the first drop
  // stays put; a large one opens at a readable zoom on its start and draws only the cards in view
  // (fitting hundreds of cards would show them too small to read and render them all at once).
  const [opening] = useState(() => openingView(useEditorStore.getState().nodes));

  const loopBoxes = useCallback(
    (excluded?: string) => {
      const result: { id: string; box: Box; depth: number }[] = [];
      const all = useEditorStore.getState().nodes;
      const parentOf = new Map(all.map((node) => [node.id, node.parentId]));
      const insideExcluded = (id: string) => {
        let current: string | undefined = id;
        const seen = new Set<string>();
        while (current !== undefined && !seen.has(current)) {
          if (current === excluded) return true;
          seen.add(current);
          current = parentOf.get(current);
        }
        return false;
      };
      for (const node of all) {
        if (node.data.spec.type !== "loop" || (excluded !== undefined && insideExcluded(node.id))) continue;
        const internal = flow.getInternalNode(node.id);
        if (!internal) continue;
        const { x, y } = internal.internals.positionAbsolute;
        const width = node.width ?? internal.measured.width ?? 0;
        const height = node.height ?? internal.measured.height ?? 0;
        let depth = 0;
        for (let parent = node.parentId; parent !== undefined && depth < 64; parent = parentOf.get(parent)) depth += 1;
        result.push({ id: node.id, box: { x, y, width, height }, depth });
      }
      return result;
    },
    [flow],
  );

  const onConnect = useCallback((connection: Connection) => {
    useEditorStore.getState().connect(connection);
  }, []);

  const isValidConnection: IsValidConnection<FlowEdge> = useCallback((connection) => useEditorStore.getState().connectionProblem(connection) === null, []);

  const onDragOver = useCallback((event: DragEvent) => {
    if (!event.dataTransfer.types.includes(PALETTE_MIME)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  }, []);

  const onDrop = useCallback(
    (event: DragEvent) => {
      const type = event.dataTransfer.getData(PALETTE_MIME);
      if (!type) return;
      event.preventDefault();
      const point = flow.screenToFlowPosition({ x: event.clientX, y: event.clientY });
      // The pointer holds the card near its top-left corner, as it held the library item.
      const corner = { x: point.x - DROP_GRAB.x, y: point.y - DROP_GRAB.y };
      const state = useEditorStore.getState();
      const parentId = type === "start" || type === "end" ? undefined : loopAt(point, loopBoxes());
      let position = corner;
      if (parentId) {
        const parent = flow.getInternalNode(parentId);
        if (parent) position = { x: corner.x - parent.internals.positionAbsolute.x, y: corner.y - parent.internals.positionAbsolute.y };
      }
      state.addNode(type, position, parentId);
    },
    [flow, loopBoxes],
  );

  const onNodeDragStart: OnNodeDrag<FlowNode> = useCallback(() => beginGesture(), [beginGesture]);

  /** Dropping a node inside a loop puts it in the body; dragging it out takes it out. */
  const onNodeDragStop: OnNodeDrag<FlowNode> = useCallback(
    (_event, node, dragged) => {
      if (dragged.length !== 1 || node.data.spec.type === "start" || node.data.spec.type === "end") return;
      const internal = flow.getInternalNode(node.id);
      if (!internal) return;
      const absolute = internal.internals.positionAbsolute;
      const width = internal.measured.width ?? 0;
      const height = internal.measured.height ?? 0;
      const center = { x: absolute.x + width / 2, y: absolute.y + height / 2 };
      const target = loopAt(center, loopBoxes(node.id));
      if (target === node.parentId) return;
      let position = { x: absolute.x, y: absolute.y };
      if (target) {
        const parent = flow.getInternalNode(target);
        if (parent) position = { x: absolute.x - parent.internals.positionAbsolute.x, y: absolute.y - parent.internals.positionAbsolute.y };
      }
      useEditorStore.getState().moveIntoParent(node.id, target, position);
    },
    [flow, loopBoxes],
  );

  return (
    <div className="fd-canvas" data-testid="editor-canvas" onDragOver={onDragOver} onDrop={onDrop}>
      <ReactFlow<FlowNode, FlowEdge>
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        edgeTypes={edgeTypes}
        defaultEdgeOptions={defaultEdgeOptions}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={onConnect}
        isValidConnection={isValidConnection}
        onNodeDragStart={onNodeDragStart}
        onNodeDragStop={onNodeDragStop}
        onNodeClick={onNodeClick}
        nodesDraggable={!readOnly}
        nodesConnectable={!readOnly}
        deleteKeyCode={null}
        selectionKeyCode="Shift"
        multiSelectionKeyCode={multiSelectKeys}
        fitView={opening.fit}
        fitViewOptions={fitViewOptions}
        {...(opening.viewport && { defaultViewport: opening.viewport })}
        onlyRenderVisibleElements={opening.large}
        minZoom={0.05}
        maxZoom={2}
        proOptions={proOptions}
      >
        <Background gap={16} />
        <Controls showInteractive={false} />
        <MiniMap pannable zoomable nodeStrokeWidth={3} data-testid="minimap" />
      </ReactFlow>
    </div>
  );
}
