/**
 * Node cards of the run view: the editor's card look (type, name, summary, handles) plus the
 * node's live status, its attempt, loop passes, parallel branches, tokens and cost. Each card
 * selects its own few values from the run view store.
 */
import { Handle, Position, type NodeProps, type NodeTypes } from "@xyflow/react";
import { Fragment, memo } from "react";
import { useShallow } from "zustand/react/shallow";

import type { NodeStatus } from "../../api/runs";
import { TARGET_HANDLE, type FlowNode } from "../../editor/mapping";
import { acceptsInput, handlesOf } from "../../editor/schema";
import { branchProgress, joinProgress, passProgress, summaryStatus } from "../../live/derive";
import { nodeKey } from "../../live/runReducer";
import { NODE_DEFAULTS } from "../../nodes/defaults";
import { categoryGlyph } from "../../nodes/shared/NodeCard";
import { scopeOf, useRunView } from "./runViewStore";

export const STATUS_LABELS: Record<NodeStatus, string> = {
  pending: "Pending",
  queued: "Queued",
  running: "Running",
  waiting: "Waiting",
  retrying: "Retrying",
  succeeded: "Succeeded",
  failed: "Failed",
  skipped: "Skipped",
  cancelled: "Cancelled",
};

interface CardLive {
  status: NodeStatus;
  attempt: number | null;
  scope: string | null;
  detail: string;
  isSelected: boolean;
}

function formatCost(cost: number | null): string {
  return cost === null ? "" : `$${cost < 0.01 ? cost.toFixed(4) : cost.toFixed(2)}`;
}

/** The card's live values, as primitives so an unrelated event does not re-render it. */
function useCardLive(id: string, type: string): CardLive {
  return useRunView(
    useShallow((state): CardLive => {
      const scope = scopeOf(id, state.parentOf, state.selectedPass);
      const isSelected = state.selection?.nodeId === id && (scope === null || state.selection.scope === scope);
      if (scope === null) {
        const counts = state.counts[id];
        const parts = counts ? Object.entries(counts).map(([status, count]) => `${count} ${status}`) : [];
        return { status: summaryStatus(counts), attempt: null, scope, detail: parts.join(" · "), isSelected };
      }
      const node = state.live.nodes[nodeKey(id, scope)];
      if (!node) return { status: "pending", attempt: null, scope, detail: "", isSelected };
      let detail = "";
      const streamed = node.status === "running" ? state.live.streams[nodeKey(id, scope)] : undefined;
      if (streamed?.text) detail = `“…${streamed.text.slice(-40)}”`;
      else if (node.status === "waiting" && node.waitReason) detail = `waits for ${node.waitReason === "agent" ? "an agent" : `a${node.waitReason === "approval" ? "n" : ""} ${node.waitReason}`}`;
      else if (node.status === "retrying" && node.error) detail = node.error.code;
      else if (node.status === "failed" && node.error) detail = node.error.code;
      else if (type === "prompt" && node.usage) {
        const tokens = (node.usage.input_tokens ?? 0) + (node.usage.output_tokens ?? 0);
        detail = [`${tokens} tokens`, formatCost(node.costUsd)].filter(Boolean).join(" · ");
      } else if (node.status === "succeeded" && node.durationMs) detail = `${node.durationMs} ms`;
      return { status: node.status, attempt: node.attempt, scope, detail, isSelected };
    }),
  );
}

function ParallelProgress({ id, scope }: { id: string; scope: string }) {
  const text = useRunView((state) => {
    if (!state.graph) return "";
    const progress = branchProgress(state.graph, state.live, id, scope);
    return `${progress.done}/${progress.total} branches done${progress.running ? ` · ${progress.running} running` : ""}`;
  });
  return (
    <div className="run-node__extra" data-testid={`branches-${id}`}>
      {text}
    </div>
  );
}

function JoinProgress({ id, scope }: { id: string; scope: string }) {
  const text = useRunView((state) => {
    if (!state.graph) return "";
    const progress = joinProgress(state.graph, state.live, id, scope);
    return `${progress.arrived}/${progress.total} arrived${progress.dead ? ` · ${progress.dead} not coming` : ""}`;
  });
  return (
    <div className="run-node__extra" data-testid={`arrivals-${id}`}>
      {text}
    </div>
  );
}

function StatusLine({ id, live }: { id: string; live: CardLive }) {
  return (
    <div className="run-node__status">
      <span className={`run-status run-status--${live.status}`} data-testid={`node-status-${id}`} data-status={live.status}>
        {STATUS_LABELS[live.status]}
      </span>
      {live.attempt !== null && live.attempt > 1 && <span className="run-node__attempt">attempt {live.attempt}</span>}
      {live.detail && <span className="run-node__detail">{live.detail}</span>}
    </div>
  );
}

export const RunNode = memo(function RunNode({ id, data }: NodeProps<FlowNode>) {
  const { spec } = data;
  const info = useRunView((state) => state.registry[spec.type]);
  const live = useCardLive(id, spec.type);
  const handles = handlesOf(info, spec);
  const summary = NODE_DEFAULTS[spec.type]?.summary(spec) ?? "";
  const labelled = handles.length > 1 || (handles.length === 1 && handles[0] !== "out");
  const className = ["fd-node", `fd-node--${info?.category ?? "unknown"}`, "run-node", `run-node--${live.status}`, live.isSelected ? "is-selected" : ""]
    .filter(Boolean)
    .join(" ");
  return (
    <div className={className} data-testid={`node-${id}`} data-node-type={spec.type} data-status={live.status}>
      {acceptsInput(spec.type) && <Handle type="target" id={TARGET_HANDLE} position={Position.Left} isConnectable={false} />}
      <div className="fd-node__header">
        <span className="fd-node__glyph" aria-hidden="true">
          {categoryGlyph(info?.category)}
        </span>
        <span className="fd-node__type">{info?.label ?? spec.type}</span>
      </div>
      <div className="fd-node__name">{spec.name || id}</div>
      {summary && <div className="fd-node__summary">{summary}</div>}
      <StatusLine id={id} live={live} />
      {spec.type === "parallel" && live.scope !== null && <ParallelProgress id={id} scope={live.scope} />}
      {spec.type === "join" && live.scope !== null && <JoinProgress id={id} scope={live.scope} />}
      {labelled && <div className="fd-node__handle-space" style={{ height: Math.max(0, handles.length - 1) * 16 }} />}
      {handles.map((handle, index) => {
        const top = labelled ? `${((index + 1) / (handles.length + 1)) * 100}%` : undefined;
        return (
          <Fragment key={handle}>
            {labelled && (
              <span className={`fd-node__handle-label fd-handle--${handle}`} style={{ top }}>
                {handle}
              </span>
            )}
            <Handle type="source" id={handle} position={Position.Right} isConnectable={false} className={`fd-handle fd-handle--${handle}`} style={top ? { top } : undefined} />
          </Fragment>
        );
      })}
    </div>
  );
});

export const RunLoopNode = memo(function RunLoopNode({ id, data }: NodeProps<FlowNode>) {
  const { spec } = data;
  const info = useRunView((state) => state.registry[spec.type]);
  const live = useCardLive(id, spec.type);
  const passes = useRunView(
    useShallow((state) => {
      if (live.scope === null) return null;
      const progress = passProgress(state.live, id, live.scope, state.bodyOf[id] ?? []);
      return { total: progress.total, succeeded: progress.succeeded, failed: progress.failed, running: progress.running, picked: state.selectedPass[id] ?? null };
    }),
  );
  const summary = NODE_DEFAULTS.loop?.summary(spec) ?? "";
  return (
    <div className={`fd-loop run-loop run-node--${live.status}${live.isSelected ? " is-selected" : ""}`} data-testid={`node-${id}`} data-node-type="loop" data-status={live.status}>
      <Handle type="target" id={TARGET_HANDLE} position={Position.Left} isConnectable={false} />
      <div className="fd-loop__header">
        <span className="fd-node__glyph" aria-hidden="true">
          {categoryGlyph(info?.category)}
        </span>
        <span className="fd-node__type">{info?.label ?? "Loop"}</span>
        <span className="fd-loop__name">{spec.name || id}</span>
        <span className="fd-loop__summary">{summary}</span>
      </div>
      <div className="run-loop__status">
        <StatusLine id={id} live={live} />
        {passes && (
          <span className="run-loop__passes" data-testid={`passes-${id}`} data-succeeded={passes.succeeded} data-total={passes.total}>
            {passes.succeeded}/{passes.total} passes
            {passes.failed > 0 && ` · ${passes.failed} failed`}
            {passes.running > 0 && ` · ${passes.running} running`}
            {passes.picked !== null && ` · showing pass ${passes.picked}`}
          </span>
        )}
      </div>
      <Handle type="source" id="out" position={Position.Right} isConnectable={false} className="fd-handle" />
      {spec.on_error === "branch" && (
        <Handle type="source" id="error" position={Position.Right} isConnectable={false} className="fd-handle fd-handle--error" style={{ top: "75%" }} />
      )}
    </div>
  );
});

/** Built once at module scope, so React Flow never sees a new object. */
export const runNodeTypes: NodeTypes = { runNode: RunNode, runLoop: RunLoopNode };
