import { useReactFlow } from "@xyflow/react";
import { useMemo, useState, type DragEvent } from "react";

import type { NodeTypeInfo } from "../api/editor";
import { categoryGlyph } from "../nodes/shared/NodeCard";
import { PALETTE_MIME } from "./Canvas";
import { useEditorStore } from "./store";

const CATEGORY_ORDER = ["flow", "ai", "logic", "data", "human", "timing", "agents"];
const CATEGORY_LABELS: Record<string, string> = {
  flow: "Flow",
  ai: "AI",
  logic: "Logic",
  data: "Data",
  human: "People",
  timing: "Timing",
  agents: "Agents",
};

export function groupByCategory(types: NodeTypeInfo[], search: string): [string, NodeTypeInfo[]][] {
  const term = search.trim().toLowerCase();
  const groups = new Map<string, NodeTypeInfo[]>();
  for (const info of types) {
    const haystack = `${info.label} ${info.type} ${info.description} ${info.category}`.toLowerCase();
    if (term && !haystack.includes(term)) continue;
    groups.set(info.category, [...(groups.get(info.category) ?? []), info]);
  }
  const rank = (category: string) => {
    const index = CATEGORY_ORDER.indexOf(category);
    return index < 0 ? CATEGORY_ORDER.length : index;
  };
  return [...groups.entries()].sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}

/** The node library: drag a type onto the canvas, or press it to add one in the middle of the view. */
export function Palette() {
  const registry = useEditorStore((state) => state.registry);
  const [search, setSearch] = useState("");
  const flow = useReactFlow();
  const groups = useMemo(() => groupByCategory(Object.values(registry), search), [registry, search]);

  const onDragStart = (event: DragEvent, type: string) => {
    event.dataTransfer.setData(PALETTE_MIME, type);
    event.dataTransfer.effectAllowed = "copy";
  };

  const addAtCenter = (type: string) => {
    const pane = document.querySelector(".fd-canvas")?.getBoundingClientRect();
    const center = pane ? flow.screenToFlowPosition({ x: pane.left + pane.width / 2, y: pane.top + pane.height / 2 }) : { x: 0, y: 0 };
    const count = useEditorStore.getState().nodes.length;
    useEditorStore.getState().addNode(type, { x: center.x - 110 + (count % 5) * 24, y: center.y - 38 + (count % 5) * 24 });
  };

  return (
    <aside className="fd-palette" aria-label="Node library" data-testid="palette">
      <input
        type="search"
        className="fd-input"
        placeholder="Search nodes"
        aria-label="Search nodes"
        value={search}
        onChange={(event) => setSearch(event.target.value)}
        data-testid="palette-search"
      />
      {groups.length === 0 && <p className="muted">No node type matches “{search}”.</p>}
      {groups.map(([category, types]) => (
        <section key={category} className="fd-palette__group" data-testid={`palette-category-${category}`}>
          <h3 className="fd-palette__heading">{CATEGORY_LABELS[category] ?? category}</h3>
          <ul>
            {types.map((info) => (
              <li key={info.type}>
                <button
                  type="button"
                  className={`fd-palette__item fd-node--${info.category}`}
                  draggable
                  onDragStart={(event) => onDragStart(event, info.type)}
                  onClick={() => addAtCenter(info.type)}
                  title={info.description}
                  data-testid={`palette-item-${info.type}`}
                >
                  <span className="fd-node__glyph" aria-hidden="true">
                    {categoryGlyph(info.category)}
                  </span>
                  <span className="fd-palette__label">{info.label}</span>
                  <span className="fd-palette__description">{info.description}</span>
                </button>
              </li>
            ))}
          </ul>
        </section>
      ))}
    </aside>
  );
}
