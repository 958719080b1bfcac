import { useId, useRef, useState, type KeyboardEvent } from "react";

import type { Suggestion } from "../references";

interface TemplateInputProps {
  value: string;
  onChange: (value: string) => void;
  kind: "template" | "expression";
  /** Read lazily, when the list opens, so typing elsewhere costs nothing. */
  suggestions: () => Suggestion[];
  multiline?: boolean;
  invalid?: boolean;
  placeholder?: string;
  testId?: string;
  describedBy?: string;
  label?: string;
  id?: string;
}

const MAX_ITEMS = 12;
const TOKEN = /[A-Za-z_][\w.]*$/;

/** The partial name before the caret that autocomplete would replace, or null outside `{{ }}`. */
export function tokenBeforeCaret(text: string, caret: number, kind: "template" | "expression"): { start: number; token: string } | null {
  const before = text.slice(0, caret);
  if (kind === "template") {
    const open = Math.max(before.lastIndexOf("{{"), before.lastIndexOf("{%"));
    const close = Math.max(before.lastIndexOf("}}"), before.lastIndexOf("%}"));
    if (open < 0 || close > open) return null;
  }
  const match = TOKEN.exec(before);
  if (!match) return { start: caret, token: "" };
  // `a.b.` is still a name being typed; `x[0].` is not worth completing.
  return { start: caret - match[0].length, token: match[0] };
}

export function matchingSuggestions(all: Suggestion[], token: string): Suggestion[] {
  const found = all.filter((item) => item.value.startsWith(token) && item.value !== token);
  return found.slice(0, MAX_ITEMS);
}

/**
 * A text field for a Jinja template or a bare expression that completes `inputs.*`, `vars.*`,
 * `nodes.<ancestor>.output.*`, `loop.*` and `loops.<id>.*` as you type (Ctrl+Space lists all).
 */
export function TemplateInput({ value, onChange, kind, suggestions, multiline, invalid, placeholder, testId, describedBy, label, id }: TemplateInputProps) {
  const ref = useRef<HTMLTextAreaElement & HTMLInputElement>(null);
  const listId = useId();
  const [items, setItems] = useState<Suggestion[]>([]);
  const [active, setActive] = useState(0);
  const [range, setRange] = useState<{ start: number; end: number } | null>(null);

  const refresh = (text: string, caret: number, force = false) => {
    const found = tokenBeforeCaret(text, caret, kind);
    if (!found || (!found.token && !force)) {
      setItems([]);
      return;
    }
    const next = matchingSuggestions(suggestions(), found.token);
    setItems(next);
    setActive(0);
    setRange({ start: found.start, end: caret });
  };

  const accept = (item: Suggestion) => {
    if (!range) return;
    const next = value.slice(0, range.start) + item.value + value.slice(range.end);
    onChange(next);
    setItems([]);
    const caret = range.start + item.value.length;
    // Put the text and caret in place now: a key typed before the next render lands after the
    // completion, not where the caret was.
    const element = ref.current;
    if (element) {
      element.value = next;
      element.setSelectionRange(caret, caret);
    }
    requestAnimationFrame(() => {
      ref.current?.focus();
      ref.current?.setSelectionRange(caret, caret);
    });
  };

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === " " && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      const element = ref.current;
      if (element) refresh(element.value, element.selectionStart ?? element.value.length, true);
      return;
    }
    if (items.length === 0) return;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      setActive((index) => (index + 1) % items.length);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      setActive((index) => (index - 1 + items.length) % items.length);
    } else if (event.key === "Enter" || event.key === "Tab") {
      const item = items[active];
      if (item) {
        event.preventDefault();
        accept(item);
      }
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      setItems([]);
    }
  };

  const common = {
    ref,
    id,
    value,
    placeholder,
    className: `fd-input fd-input--code${invalid ? " is-invalid" : ""}`,
    "aria-invalid": invalid || undefined,
    "aria-describedby": describedBy,
    "aria-label": label,
    "aria-autocomplete": "list" as const,
    "aria-controls": items.length ? listId : undefined,
    "aria-expanded": items.length > 0,
    "data-testid": testId,
    spellCheck: false,
    onChange: (event: { target: HTMLInputElement | HTMLTextAreaElement }) => {
      onChange(event.target.value);
      refresh(event.target.value, event.target.selectionStart ?? event.target.value.length);
    },
    onKeyDown,
    onBlur: () => setTimeout(() => setItems([]), 150),
  };

  return (
    <div className="fd-template">
      {multiline ? <textarea {...common} rows={3} /> : <input {...common} type="text" />}
      {items.length > 0 && (
        <ul className="fd-autocomplete" id={listId} role="listbox" data-testid="autocomplete-list">
          {items.map((item, index) => (
            <li
              key={item.value}
              role="option"
              aria-selected={index === active}
              className={index === active ? "is-active" : undefined}
              data-testid="autocomplete-option"
              onMouseDown={(event) => {
                event.preventDefault();
                accept(item);
              }}
            >
              <code>{item.value}</code>
              <span className="muted">{item.detail}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
